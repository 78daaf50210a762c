"""The invariant audit (audit/invariants.py, manage.py audit_invariants) against states made by the real services.

A small in-process stand-in for the relay, the bridge and the workers (``deliver_all``) moves
every committed event to the services subscribed to it, through the real inbox and handlers,
so that a whole saga runs inside one test transaction. Each test then breaks one thing on
purpose, the way a bug or a lost message would, and expects the audit to name it.
"""

import json
import re
import uuid
from contextlib import ExitStack
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.carts.enums import CartStatus
from apps.carts.models import Cart
from apps.carts.services import cart_add_item, cart_convert
from apps.carts.tests.factories import CartFactory
from apps.customers.services import customer_create
from apps.events.enums import ProcessingStatus
from apps.events.inbox import consume, parse, record_failure
from apps.events.models import OutboxEvent, ProcessedMessage
from apps.inventory.enums import MovementKind
from apps.inventory.models import InventoryItem, StockMovement
from apps.inventory.services import inventory_create
from apps.notifications.enums import Audience, Channel, NotificationStatus
from apps.notifications.models import Notification
from apps.notifications.services import notification_create
from apps.notifications.tests.factories import NotificationFactory
from apps.orders.handlers import on_stock_available_given_up
from apps.orders.models import Order
from apps.orders.services import order_cancel
from apps.orders.tests.factories import OrderFactory
from apps.products.services import product_create, product_update
from apps.push.models import PushMessage
from audit import invariants
from shop.registry import SERVICES
from shop.topology import handlers_of, subscriptions
from testsupport.events import relayed

ALL_DATABASES = ["default", *SERVICES]
pytestmark = pytest.mark.django_db(databases=ALL_DATABASES)

GRACE = 60
BOUND = 600


# --- A platform in one process ------------------------------------------------------------------


def deliver_all(*, lose=(), handlers=None) -> int:
    """Publish every committed outbox row and have each subscribed service consume it, until none is left.

    ``lose``: (service, topic) pairs whose messages vanish after publishing (acknowledged, never handled).
    ``handlers``: {(service, topic): handler} replacing the real one (a consumer with a bug).
    """
    handlers = handlers or {}
    consumers: dict[str, list] = {}
    for subscription in subscriptions():
        consumers.setdefault(subscription.topic, []).append(subscription.service)
    delivered = 0
    while True:
        moved = 0
        for producer in SERVICES.values():
            outbox = OutboxEvent.objects.using(producer.database)
            for row in outbox.filter(published_at__isnull=True).order_by("id"):
                outbox.filter(pk=row.pk).update(published_at=timezone.now())
                moved += 1
                for consumer in consumers.get(row.topic, []):
                    if (consumer.name, row.topic) in lose:
                        continue
                    event, envelope = parse(*relayed(row))
                    consume(
                        database=consumer.database,
                        service_name=consumer.service_name,
                        handler=handlers.get((consumer.name, row.topic)) or handlers_of(consumer)[row.event_type],
                        event=event,
                        envelope=envelope,
                    )
                    delivered += 1
        if not moved:
            return delivered


def order_cart(customer_id, *lines, **delivery) -> uuid.UUID:
    for sku, quantity in lines:
        cart_add_item(customer_id=customer_id, product_sku=sku, quantity=quantity)
    cart = cart_convert(customer_id=customer_id)
    deliver_all(**delivery)
    return cart.id


def new_customer() -> uuid.UUID:
    return customer_create(name="Test Customer", email=f"{uuid.uuid4().hex[:12]}@example.com").id


def published(service: str, event_type: str, **payload) -> OutboxEvent:
    rows = OutboxEvent.objects.using(service).filter(event_type=event_type)
    for key, value in payload.items():
        rows = rows.filter(**{f"payload__{key}": str(value)})
    return rows.get()


@pytest.fixture
def shop():
    """A consistent platform: an order, a rejected cart and a cancelled order, everything delivered."""
    product_create(sku="LAP-001", name="Laptop", price=Decimal("999.99"))
    product_create(sku="PHN-001", name="Smartphone", price=Decimal("699.99"))
    inventory_create(product_sku="LAP-001", quantity=5, reference="test stock")
    inventory_create(product_sku="PHN-001", quantity=2, reference="test stock")
    buyer, rejected_buyer, canceller = new_customer(), new_customer(), new_customer()
    deliver_all()

    ordered = order_cart(buyer, ("LAP-001", 2), ("PHN-001", 1))
    rejected = order_cart(rejected_buyer, ("PHN-001", 5))
    cancelled = order_cart(canceller, ("LAP-001", 1))
    cancelled_order = Order.objects.using("order").get(cart_id=cancelled)
    order_cancel(order_id=cancelled_order.id, reason="changed my mind")
    deliver_all()
    return SimpleNamespace(
        buyer=buyer,
        ordered_cart=ordered,
        order=Order.objects.using("order").get(cart_id=ordered),
        rejected_cart=rejected,
        cancelled_cart=cancelled,
        cancelled_order=cancelled_order,
    )


def run(*, grace=0, later=0, bound=None):
    """The audit, as if started ``later`` seconds from now."""
    return invariants.run_audit(grace_seconds=grace, bound_seconds=bound, now=timezone.now() + timedelta(seconds=later))


def failing(report) -> set[str]:
    return {check.name for check in report.checks if not check.ok}


def details(report, check: str) -> list[str]:
    return [f"{v.subject}: {v.detail}" for v in report.violations if v.invariant == check]


def drop_unique_constraints(database: str, table: str) -> None:
    """Take away a table's unique constraints for this test (DDL rolls back with the test's transaction)."""
    with connections[database].cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'", [table])
        for (name,) in cursor.fetchall():
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')


# --- A consistent platform passes ------------------------------------------------------------------


def test_a_consistent_platform_passes_every_check(shop):
    # the saga really ran: one outcome each, notifications delivered
    assert Order.objects.using("order").count() == 2
    sent = Notification.objects.using("notification").filter(status=NotificationStatus.SENT)
    assert sent.count() == 4 * 2 + 1  # an email and a push per event, and the stock manager's alert

    report = run()

    assert report.ok, report.violations
    assert report.summary == f"audit: OK ({len(invariants.CHECKS)} checks)"
    examined = {check.name: check.examined for check in report.checks}
    assert examined["cart-outcomes"]["converted"] == 3
    assert examined["cart-outcomes"]["ordered"] == 2
    assert examined["cart-outcomes"]["re-editable after a rejection"] == 1
    assert examined["stock-conservation"]["units on hand"] == 5 + 2 - 3 - 1 + 1
    assert examined["stock-conservation"]["units in confirmed orders"] == 3
    assert examined["event-notifications"]["order.created events"] == 2
    assert examined["event-notifications"]["order.cancelled events"] == 1
    assert examined["event-notifications"]["stock.rejected events"] == 1
    assert examined["cancellations-returned"]["stock returned"] == 1
    assert examined["events-consumed"]["deliveries missing"] == 0


def test_the_verdict_does_not_depend_on_the_page_size(shop, monkeypatch):
    monkeypatch.setattr(invariants, "CHUNK", 1)
    assert run().ok

    InventoryItem.objects.using("inventory").filter(product_sku="PHN-001").update(quantity=F("quantity") - 1)
    assert failing(run()) == {"stock-conservation"}


def test_the_audit_reads_each_service_only_through_its_own_connection(shop):
    shared = ("outbox", "processed_messages", "dead_letters")
    with ExitStack() as stack:
        captured = {alias: stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in SERVICES}
        run()

    for alias, context in captured.items():
        own = f"{SERVICES[alias].app_label}_"
        assert context.captured_queries, alias  # every service was read
        for query in context.captured_queries:
            tables = set(re.findall(r'(?:FROM|JOIN) "(\w+)"', query["sql"]))
            assert all(t.startswith(own) or t in shared for t in tables), (alias, query["sql"])


# --- Invariant 1 ---------------------------------------------------------------------------------


def test_a_second_order_for_a_cart_is_reported(shop):
    # given: a schema that no longer refuses it, and a second order for the ordered cart
    drop_unique_constraints("order", "orders_order")
    OrderFactory(cart_id=shop.ordered_cart, customer_id=shop.buyer)

    report = run()

    assert failing(report) == {"cart-outcomes"}
    assert details(report, "cart-outcomes") == [f"cart {shop.ordered_cart}: has 2 orders; a cart has at most one"]


def test_an_order_for_a_rejected_cart_is_two_outcomes(shop):
    OrderFactory(cart_id=shop.rejected_cart)

    report = run()

    assert failing(report) == {"cart-outcomes"}
    [detail] = details(report, "cart-outcomes")
    assert detail.startswith(f"cart {shop.rejected_cart}: is stock-unavailable (re-editable) but has order")


def test_a_cart_stuck_processing_past_the_grace_is_reported(shop):
    # given: a converted cart whose order-requested was acknowledged but never handled
    customer = new_customer()
    deliver_all()
    cart_id = order_cart(customer, ("LAP-001", 1), lose={("inventory", "order-requested")})

    # then: within the grace it is in flight
    within = run(grace=GRACE)
    assert within.ok, within.violations
    assert within.checks[0].examined["in flight (processing, younger than grace)"] == 1

    # and past it, stuck (and the lost message is named)
    later = run(grace=GRACE, later=GRACE + 1)
    assert failing(later) == {"cart-outcomes", "events-consumed"}
    [stuck] = details(later, "cart-outcomes")
    assert stuck.startswith(f"cart {cart_id}: stuck processing since")
    assert "no order and no rejection reached it" in stuck
    [lost] = details(later, "events-consumed")
    assert "not consumed by inventory-service: it has no record of it" in lost


def test_an_order_for_a_cart_never_converted_is_reported(shop):
    cart = CartFactory()
    order = OrderFactory(cart_id=cart.id)

    assert details(run(), "cart-outcomes") == [
        f"cart {cart.id}: is active and was never converted but has order {order.id} (confirmed): two outcomes"
    ]


def test_an_ordered_cart_without_an_order_is_reported(shop):
    cart = CartFactory(ordered=True)

    assert details(run(), "cart-outcomes") == [f"cart {cart.id}: is ordered, but the order service has no order for it"]


def test_a_cart_processing_past_the_sagas_bound_is_stranded_whatever_the_grace(shop):
    # given: a converted cart whose order-requested was acknowledged but never handled
    customer = new_customer()
    deliver_all()
    cart_id = order_cart(customer, ("LAP-001", 1), lose={("inventory", "order-requested")})

    # then: a generous grace excuses it within the bound
    assert run(grace=3600, later=100, bound=BOUND).ok

    # but not past it
    later = run(grace=3600, later=BOUND + 1, bound=BOUND)
    assert failing(later) == {"cart-outcomes"}
    [stranded] = details(later, "cart-outcomes")
    assert stranded.startswith(f"cart {cart_id}: stuck processing since")
    assert stranded.endswith(f"past the saga's bound of {BOUND}s, no step was given up on")
    assert later.checks[0].examined["past the saga's bound"] == 1


def test_a_given_up_order_step_ends_the_saga_and_the_cart_may_ask_again(shop):
    # given: the order service gives up on a cart's stock-available (its give-up hook runs)
    customer = new_customer()
    deliver_all()
    gives_up = {("order", "stock-available"): lambda event, envelope: on_stock_available_given_up(event, envelope, "x")}

    # when
    cart_id = order_cart(customer, ("LAP-001", 2), handlers=gives_up)

    # then: the stock is back, the cart re-editable, the customer told, and the audit content
    assert Cart.objects.using("cart").get(id=cart_id).status == CartStatus.STOCK_UNAVAILABLE
    assert InventoryItem.objects.using("inventory").get(product_sku="LAP-001").quantity == 3
    assert published("inventory", "stock.rejected", cart_id=cart_id).payload["reason"] == "order_failed"
    report = run()
    assert report.ok, report.violations

    # and when the cart asks again, it is ordered: reserved a second time, after its release
    cart_convert(customer_id=customer)
    deliver_all()
    assert Order.objects.using("order").filter(cart_id=cart_id).exists()
    report = run()
    assert report.ok, report.violations
    assert {c.name: c.examined for c in report.checks}["stock-moved-once"]["reserved again after a release"] == 1


# --- Invariant 2 ---------------------------------------------------------------------------------


def test_a_vanished_stock_unit_is_reported(shop):
    InventoryItem.objects.using("inventory").filter(product_sku="LAP-001").update(quantity=F("quantity") - 1)

    report = run()

    assert failing(report) == {"stock-conservation"}
    assert details(report, "stock-conservation") == [
        "sku LAP-001: 2 on hand + 2 in confirmed orders = 4, but 5 put in: 1 unit(s) missing",
        "sku LAP-001: its stock movements add up to 3, but 2 are on hand",
    ]


def test_a_reservation_without_its_order_is_in_flight_only_within_the_grace(shop):
    # given: inventory reserved, but stock-available has not reached the order service yet
    customer = new_customer()
    deliver_all()
    order_cart(customer, ("PHN-001", 1), lose={("order", "stock-available")})

    within = run(grace=GRACE)
    assert within.ok, within.violations
    assert within.checks[1].examined["units in flight (within grace)"] == 1

    later = run(grace=GRACE, later=GRACE + 1)
    assert "sku PHN-001: 0 on hand + 1 in confirmed orders = 1, but 2 put in: 1 unit(s) missing" in details(
        later, "stock-conservation"
    )
    assert failing(later) == {"stock-conservation", "cart-outcomes", "events-consumed"}


def test_a_cancellation_whose_stock_is_not_back_yet_is_in_flight_within_the_grace():
    product_create(sku="LAP-001", name="Laptop", price=Decimal("999.99"))
    inventory_create(product_sku="LAP-001", quantity=3)
    customer = new_customer()
    deliver_all()
    cart_id = order_cart(customer, ("LAP-001", 2))
    order_cancel(order_id=Order.objects.using("order").get(cart_id=cart_id).id)
    deliver_all(lose={("inventory", "order.cancelled")})

    assert run(grace=GRACE).ok
    assert failing(run(grace=GRACE, later=GRACE + 1)) == {
        "stock-conservation",
        "cancellations-returned",
        "events-consumed",
    }


def test_stock_reserved_without_an_order_past_the_sagas_bound_is_named(shop):
    # given: inventory reserved, but stock-available never reached the order service
    customer = new_customer()
    deliver_all()
    cart_id = order_cart(customer, ("PHN-001", 1), lose={("order", "stock-available")})

    within = run(grace=3600, later=100, bound=BOUND)
    assert within.ok, within.violations
    assert {c.name: c.examined for c in within.checks}["reservations-settled"]["in flight (within the bound)"] == 1

    later = run(grace=3600, later=BOUND + 1, bound=BOUND)
    assert "reservations-settled" in failing(later)
    [stranded] = details(later, "reservations-settled")
    assert stranded.startswith(f"cart {cart_id}: stock reserved ")
    assert stranded.endswith(
        f"(1 x PHN-001), past the saga's bound of {BOUND}s: no order was made and the stock never came back"
    )


def test_the_sagas_default_bound_follows_the_retry_and_redrive_settings(settings):
    settings.HANDLER_MAX_RETRIES, settings.HANDLER_RETRY_BACKOFF_MAX = 3, 2
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_INTERVAL_SECONDS = 10, 5

    # four steps in series, each retried (1 + 2 + 2 s) and re-driven once (15 s), and a minute
    assert invariants.saga_bound_seconds() == 4 * (5 + 15) + 60


# --- Invariant 3 ---------------------------------------------------------------------------------


def test_a_missing_push_notification_is_reported(shop):
    created = published("order", "order.created", order_id=shop.order.id)
    push = Notification.objects.using("notification").get(event_id=created.event_id, channel=Channel.PUSH)
    PushMessage.objects.using("push").filter(notification_id=push.id).delete()
    push.delete()

    report = run()

    assert failing(report) == {"event-notifications"}
    assert details(report, "event-notifications") == [
        f"order.created event {created.event_id}: 0 push notifications for the customer "
        f"(order {shop.order.id}); exactly 1 expected"
    ]


def test_a_notification_for_an_event_nobody_published_is_reported(shop):
    stray = NotificationFactory(
        event_id=uuid.uuid4(), event_type="order.created", channel=Channel.EMAIL, status=NotificationStatus.FAILED
    )

    report = run()

    assert failing(report) == {"event-notifications"}
    [detail] = details(report, "event-notifications")
    assert detail.startswith(f"notification {stray.id}: email notification for order.created event {stray.event_id}")


def test_the_stock_managers_alert_is_not_counted_among_the_customers_notifications(shop):
    rejected = published("inventory", "stock.rejected", cart_id=shop.rejected_cart)
    alerts = Notification.objects.using("notification").filter(
        event_id=rejected.event_id, audience=Audience.STOCK_MANAGER
    )
    assert alerts.count() == 1

    assert run().ok


def test_a_notification_never_delivered_is_reported_past_the_grace(shop):
    notification = notification_create(customer_id=shop.buyer, channel=Channel.PUSH, message="hello")
    deliver_all(lose={("push", "push.requested")})

    assert run(grace=GRACE).ok
    later = run(grace=GRACE, later=GRACE + 1)
    assert failing(later) == {"notification-delivery", "events-consumed"}
    [detail] = details(later, "notification-delivery")
    assert detail.startswith(f"push notification {notification.id}: still pending")
    assert detail.endswith("the push service never delivered it")


# --- Invariant 4 ---------------------------------------------------------------------------------


def test_an_old_unpublished_outbox_row_is_reported(shop):
    product_update(sku="LAP-001", price=Decimal("899.99"))  # committed, and the relay is down

    assert run(grace=GRACE).ok
    later = run(grace=GRACE, later=GRACE + 1)
    assert failing(later) == {"outbox-published"}
    [detail] = details(later, "outbox-published")
    assert re.fullmatch(
        r"product\.changed event [0-9a-f-]{36}: committed by product-service \d+s ago, never published", detail
    )


def test_an_event_whose_consumer_keeps_failing_is_reported_with_its_error(shop):
    notification_create(customer_id=shop.buyer, channel=Channel.PUSH, message="hello")
    deliver_all(lose={("push", "push.requested")})
    requested = OutboxEvent.objects.using("notification").filter(event_type="push.requested").latest("id")
    record_failure(
        database="push",
        service_name="push-service",
        event_id=str(requested.event_id),
        event_type="push.requested",
        error="OperationalError: the push database is down",
    )

    report = run(grace=GRACE, later=GRACE + 1)

    assert f"push.requested event {requested.event_id}" in {v.subject for v in report.violations}
    assert any(
        detail.endswith(
            "not consumed by push-service: its last attempt failed (OperationalError: the push database is down)"
        )
        for detail in details(report, "events-consumed")
    )
    assert {check.name: check.examined for check in report.checks}["events-consumed"]["deliveries failing"] == 1


def test_a_cancelled_order_whose_stock_was_not_returned_is_reported(shop):
    # given: inventory acknowledges the cancellation of a new order but does nothing with it
    customer = new_customer()
    deliver_all()
    cart_id = order_cart(customer, ("LAP-001", 1))
    order = Order.objects.using("order").get(cart_id=cart_id)
    order_cancel(order_id=order.id)
    deliver_all(handlers={("inventory", "order.cancelled"): lambda event, envelope: None})

    report = run()

    assert failing(report) == {"cancellations-returned", "stock-conservation"}
    [detail] = details(report, "cancellations-returned")
    assert detail.startswith(f"order {order.id}: cancelled (order.cancelled ")
    assert detail.endswith(f"the reservation of cart {cart_id} is still reserved: its stock never came back")


def test_an_event_recorded_twice_by_a_consumer_is_reported(shop):
    drop_unique_constraints("inventory", "processed_messages")
    first = ProcessedMessage.objects.using("inventory").filter(status=ProcessingStatus.SUCCESS).first()
    ProcessedMessage.objects.using("inventory").create(
        message_id=first.message_id,
        event_type=first.event_type,
        service_name=first.service_name,
        status=ProcessingStatus.SUCCESS,
    )

    report = run()

    assert failing(report) == {"inbox-unique"}
    assert details(report, "inbox-unique") == [
        f"event {first.message_id}: recorded 2 times by inventory-service (inventory database)"
    ]


def test_a_reservation_applied_twice_is_reported(shop):
    # given: the ordered cart's laptops taken from stock a second time
    InventoryItem.objects.using("inventory").filter(product_sku="LAP-001").update(quantity=F("quantity") - 2)
    StockMovement.objects.using("inventory").create(
        product_sku="LAP-001", delta=-2, kind=MovementKind.RESERVED, reference=f"cart:{shop.ordered_cart}"
    )

    report = run()

    assert failing(report) == {"stock-moved-once", "stock-conservation"}
    assert details(report, "stock-moved-once") == [
        f"cart:{shop.ordered_cart} sku LAP-001: 2 reserved movements (-4 units); a cart moves a SKU's stock once"
    ]


# --- The command ---------------------------------------------------------------------------------


def command(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("audit_invariants", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def test_the_command_passes_a_consistent_platform(shop):
    status, output = command("--grace", "0")

    assert status == 0
    lines = output.strip().splitlines()
    assert lines[-1] == f"audit: OK ({len(invariants.CHECKS)} checks)"
    assert "[1] cart-outcomes: every converted cart has exactly one outcome: ok" in lines
    assert (
        "    examined: carts 3, converted 3, ordered 2, re-editable after a rejection 1, "
        "in flight (processing, younger than grace) 0, never converted 0, orders 2, orders of no cart (POST /orders) 0"
    ) in lines


def test_the_command_lists_the_violations_and_exits_non_zero(shop):
    InventoryItem.objects.using("inventory").filter(product_sku="PHN-001").update(quantity=0)

    status, output = command("--grace", "0")

    assert status == 1
    assert "  [stock-conservation] sku PHN-001: its stock movements add up to 1, but 0 are on hand" in output
    assert output.strip().splitlines()[-1] == "audit: 2 violations"


def test_the_command_caps_its_listing_but_counts_everything(shop):
    long_ago = timezone.now() - timedelta(hours=1)
    for _ in range(3):
        CartFactory(processing=True, converted_at=long_ago)

    status, output = command("--limit", "1")

    assert status == 1
    assert output.count("stuck processing since") == 1
    assert "  [cart-outcomes] ... and 2 more" in output
    assert output.strip().splitlines()[-1] == "audit: 3 violations"


def test_the_command_speaks_json_for_tools(shop):
    CartFactory(processing=True, converted_at=timezone.now() - timedelta(hours=1))

    status, output = command("--json", "--grace", "30")

    assert status == 1
    report = json.loads(output)
    assert (report["ok"], report["violation_count"], report["grace_seconds"]) == (False, 1, 30.0)
    assert report["summary"] == "audit: 1 violation"
    by_name = {check["name"]: check for check in report["checks"]}
    assert set(by_name) == {check.__name__.removeprefix("check_").replace("_", "-") for check in invariants.CHECKS}
    [violation] = by_name["cart-outcomes"]["violations"]
    assert violation["invariant"] == "cart-outcomes"
    assert by_name["stock-conservation"]["ok"] is True
    assert by_name["stock-conservation"]["examined"]["units on hand"] == 4


def test_the_command_refuses_a_negative_grace():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="cannot be negative"):
        call_command("audit_invariants", "--grace", "-1")
