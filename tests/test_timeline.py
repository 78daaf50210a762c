"""The life of one order (issue #13, item 5): every service's trail, the timeline, `manage.py trace`.

A whole order runs through the real services: the cart converts, and a small stand-in for the relay
and the bridge (``deliver_all``) hands every committed outbox row, with its envelope as the relay
publishes it, to each subscribed service's real consumer (``apps/<app>/tasks.py``), one real
transaction each (transactional tests: PostgreSQL's ``now()`` is a transaction's start, so one test
transaction would give every inbox row the same time). The HTTP fan-out runs against a live server
that answers every service's ``/events/trail``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from contextlib import ExitStack
from decimal import Decimal
from importlib import import_module
from io import StringIO

import jwt
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.carts.services import cart_add_item, cart_convert
from apps.carts.tasks import consumer as cart_consumer
from apps.customers.services import customer_create
from apps.email.models import EmailMessage
from apps.events.consumer import Delivery, Outcome
from apps.events.contracts import StockRejected
from apps.events.models import OutboxEvent
from apps.inventory.services import inventory_create
from apps.notifications.models import Notification
from apps.orders.models import Order
from apps.products.services import product_create
from apps.push.models import PushMessage
from shop.observability.timeline import local_timeline, service_trail
from shop.registry import SERVICES, get_service
from shop.topology import subscriptions
from testsupport.events import message, relayed

ALL_DATABASES = ["default", *SERVICES]
pytestmark = pytest.mark.django_db(databases=ALL_DATABASES, transaction=True)
SECRET = "timeline-secret-of-at-least-thirty-two-bytes"


def deliver_all() -> None:
    """Publish every committed outbox row and hand it to each subscribed service's consumer, until none is left."""
    consumers: dict[str, list] = {}
    for subscription in subscriptions():
        consumers.setdefault(subscription.topic, []).append(subscription.service)
    while True:
        moved = 0
        for producer in SERVICES.values():
            outbox = OutboxEvent.objects.using(producer.database)
            for row in outbox.filter(published_at__isnull=True).order_by("id"):
                outbox.filter(pk=row.pk).update(published_at=timezone.now(), first_published_at=timezone.now())
                moved += 1
                for service in consumers.get(row.topic, []):
                    consumer = import_module(f"apps.{service.app_label}.tasks").consumer
                    [result] = consumer.handle([Delivery.of(relayed(row))])
                    assert result.outcome is Outcome.PROCESSED, (service.name, row.event_type, result.error)
        if not moved:
            return


@pytest.fixture
def order():
    """One order, from the catalog and stock through to its email and push message, everything delivered."""
    product_create(sku="LAP-001", name="Laptop", price=Decimal("999.99"))
    inventory_create(product_sku="LAP-001", quantity=5, reference="test stock")
    customer_id = customer_create(name="Jane Doe", email="jane.doe@example.com").id
    deliver_all()
    cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=2)
    cart = cart_convert(customer_id=customer_id)
    deliver_all()
    return Order.objects.using("order").get(cart_id=cart.id)


# What the life of an order must show, in this order (service, kind, what): a subsequence of the timeline.
THE_LIFE_OF_AN_ORDER = [
    ("cart", "state", "cart converted"),
    ("cart", "published", "order-requested"),
    ("inventory", "consumed", "order-requested"),
    ("inventory", "state", "stock reserved"),
    ("inventory", "published", "stock-available"),
    ("order", "consumed", "stock-available"),
    ("order", "state", "order confirmed"),
    ("order", "published", "order.created"),
    ("notification", "consumed", "order.created"),
    ("notification", "state", "push notification created"),
    ("notification", "published", "push.requested"),
    ("push", "consumed", "push.requested"),
    ("push", "state", "push message stored"),
    ("push", "published", "notification.delivered"),
    ("notification", "consumed", "notification.delivered"),
    ("notification", "state", "push notification sent"),
]


def keys(entries) -> list[tuple[str, str, str]]:
    return [(entry.service, entry.kind, entry.what) for entry in entries]


def assert_subsequence(expected, actual) -> None:
    remaining = iter(actual)
    missing = [step for step in expected if step not in remaining]
    assert not missing, f"{missing[0]} not found after the steps before it in:\n" + "\n".join(map(str, actual))


def test_the_timeline_shows_the_life_of_one_order_in_time_order(order):
    timeline = local_timeline(order.cart_id)

    entries = timeline.entries
    assert [entry.at for entry in entries] == sorted(entry.at for entry in entries)
    assert_subsequence(THE_LIFE_OF_AN_ORDER, keys(entries))
    # the email side and the cart's outcome are there too
    for step in [
        ("notification", "published", "email.requested"),
        ("email", "consumed", "email.requested"),
        ("email", "state", "email sent"),
        ("email", "published", "notification.delivered"),
        ("cart", "consumed", "order.created"),
        ("cart", "state", "cart ordered"),
    ]:
        assert step in keys(entries), step
    # every event of the saga, and nothing but them: all outcomes good
    consumed = [entry for entry in entries if entry.kind == "consumed"]
    assert {entry.outcome for entry in consumed} == {"done"}
    assert {entry.outcome for entry in entries if entry.kind == "published"} == {"published"}
    # each event consumed is one some service published, under the same id
    published_ids = {entry.event_id for entry in entries if entry.kind == "published"}
    assert {entry.event_id for entry in consumed} <= published_ids


def test_the_carts_correlation_id_follows_it_down_to_the_push_message(order):
    push_request = OutboxEvent.objects.using("notification").get(event_type="push.requested")
    email_request = OutboxEvent.objects.using("notification").get(event_type="email.requested")

    assert push_request.correlation_id == email_request.correlation_id == order.cart_id
    assert PushMessage.objects.using("push").get().correlation_id == order.cart_id
    assert EmailMessage.objects.using("email").get().correlation_id == order.cart_id
    assert {n.correlation_id for n in Notification.objects.using("notification")} == {order.cart_id}
    for service in ("email", "push"):
        report = OutboxEvent.objects.using(service).get(event_type="notification.delivered")
        assert report.correlation_id == order.cart_id


def test_a_service_trail_holds_only_what_its_own_database_knows(order):
    push = keys(service_trail(get_service("push"), order.cart_id))

    assert {service for service, _, _ in push} == {"push"}
    assert ("push", "state", "push message stored") in push
    assert service_trail(get_service("push"), uuid.uuid4()) == []


def test_a_failed_attempt_and_a_dead_letter_show_in_the_trail(order):
    # given: a stock.rejected for this cart that the cart service failed on, then gave up on
    event = StockRejected(cart_id=order.cart_id, customer_id=order.customer_id, details=[], reason="order_failed")
    delivery = message(event, correlation_id=str(order.cart_id))
    attempts = [Delivery.of(delivery, retries=n) for n in (0, cart_consumer.retry_policy.max_retries)]

    def broken(event, envelope):
        raise RuntimeError("the cart handler broke")

    real = cart_consumer.handlers
    cart_consumer.handlers = {**real, "stock.rejected": broken}
    try:
        outcomes = [cart_consumer.handle([attempt])[0].outcome for attempt in attempts]
    finally:
        cart_consumer.handlers = real

    # then
    assert outcomes == [Outcome.RETRY, Outcome.DEAD_LETTERED]
    cart = [e for e in service_trail(get_service("cart"), order.cart_id) if e.what == "stock.rejected"]
    assert [(e.kind, e.outcome) for e in cart] == [
        ("consumed", "dead-lettered"),
        ("dead-lettered", "waiting for a replay"),
    ]
    assert "the cart handler broke" in cart[0].details
    assert f"after {cart_consumer.retry_policy.max_retries + 1} attempts" in cart[1].details


# --- manage.py trace -----------------------------------------------------------------------------


def trace(identifier, *options) -> str:
    out = StringIO()
    call_command("trace", str(identifier), *options, stdout=out)
    return out.getvalue()


def test_trace_prints_the_same_entries_for_the_cart_the_order_and_the_correlation_id(order):
    by_cart, by_order = json.loads(trace(order.cart_id, "--json")), json.loads(trace(order.id, "--json"))

    assert by_cart["resolved_as"] == "cart"
    assert by_order["resolved_as"] == "order"
    assert by_cart["entries"] == by_order["entries"] == local_timeline(order.cart_id).as_dict()["entries"]
    assert by_cart["correlation_id"] == by_order["correlation_id"] == str(order.cart_id)
    # a correlation id that is neither a cart nor an order (a POST /orders request's) is taken as it is
    unknown = uuid.uuid4()
    assert json.loads(trace(unknown, "--json"))["resolved_as"] == "correlation id"

    text = trace(order.id)
    lines = text.splitlines()
    assert lines[0] == f"{order.id}: order; correlation id {order.cart_id}"
    assert len([line for line in lines[3:] if line.strip()]) == len(by_cart["entries"])
    for service, kind, what in THE_LIFE_OF_AN_ORDER:
        assert any(service in line and kind in line and what in line for line in lines), (service, kind, what)
    assert "nothing recorded" in trace(unknown)


def test_trace_reads_each_service_only_through_its_own_connection(order):
    shared = ("outbox", "processed_messages", "dead_letters")
    with ExitStack() as stack:
        captured = {alias: stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in SERVICES}
        trace(order.id, "--json")

    for alias, context in captured.items():
        own = f"{SERVICES[alias].app_label}_"
        assert context.captured_queries, alias  # every service was read
        for query in context.captured_queries:
            tables = set(re.findall(r'(?:FROM|JOIN) "(\w+)"', query["sql"]))
            assert all(t.startswith(own) or t in shared for t in tables), (alias, query["sql"])


def test_trace_refuses_what_is_not_an_id():
    with pytest.raises(Exception, match="is not a UUID"):
        trace("not-an-id")


# --- Over HTTP: every service's part, and the order's timeline --------------------------------------


def token(subject: str, *, staff: bool = False) -> str:
    claims = {"sub": subject, "exp": int(time.time()) + 600, **({"roles": ["staff"]} if staff else {})}
    return "Bearer " + jwt.encode(claims, SECRET, "HS256")


@pytest.fixture
def platform_over_http(settings, live_server):
    """Every service's /events/trail answering at live_server/<service>, as SERVICE_URLS says; jwt mode."""
    settings.AUTH_MODE = "jwt"
    settings.AUTH_JWT_SECRET = SECRET
    settings.ROOT_URLCONF = "tests.timeline_urls"
    settings.SERVICE_URLS = {name: f"{live_server.url}/{name}" for name in SERVICES}
    settings.TIMELINE_TIMEOUT_SECONDS = 5.0
    return settings


def test_a_service_gives_its_part_to_staff_only(order, platform_over_http, client):
    path = f"/push/events/trail?correlation_id={order.cart_id}"

    staff = client.get(path, HTTP_AUTHORIZATION=token("ops", staff=True))
    assert staff.status_code == 200
    assert [e["what"] for e in staff.json()["entries"]] == [
        "push.requested",
        "push message stored",
        "notification.delivered",
    ]
    assert client.get(path, HTTP_AUTHORIZATION=token(str(order.customer_id))).status_code == 403
    assert client.get(path).status_code == 401
    bad = client.get("/push/events/trail?correlation_id=nope", HTTP_AUTHORIZATION=token("ops", staff=True))
    assert bad.status_code == 400


def test_the_order_timeline_asks_every_service_with_the_staff_credential(order, platform_over_http, client):
    response = client.get(f"/orders/{order.id}/timeline", HTTP_AUTHORIZATION=token("ops", staff=True))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["missing"] == []  # every service answered: the staff token was passed on
    assert body["order_id"] == str(order.id)
    assert body["correlation_id"] == str(order.cart_id)
    assert body["entries"] == local_timeline(order.cart_id).as_dict()["entries"]
    assert_subsequence(THE_LIFE_OF_AN_ORDER, [(e["service"], e["kind"], e["what"]) for e in body["entries"]])


def test_a_service_that_cannot_be_reached_is_named_and_the_rest_returned(order, platform_over_http, client):
    platform_over_http.SERVICE_URLS = {**platform_over_http.SERVICE_URLS, "push": "http://127.0.0.1:9"}

    response = client.get(f"/orders/{order.id}/timeline", HTTP_AUTHORIZATION=token("ops", staff=True))

    assert response.status_code == 200
    body = response.json()
    assert [m["service"] for m in body["missing"]] == ["push"]
    assert body["missing"][0]["reason"].startswith("unreachable")
    services = {e["service"] for e in body["entries"]}
    assert "push" not in services
    assert {"cart", "inventory", "order", "notification", "email"} <= services


def test_customers_and_anonymous_callers_get_no_timeline(order, platform_over_http, client):
    path = f"/orders/{order.id}/timeline"
    other = "550e8400-e29b-41d4-a716-446655440001"

    assert client.get(path, HTTP_AUTHORIZATION=token(str(order.customer_id))).status_code == 403
    assert client.get(path, HTTP_AUTHORIZATION=token(other)).status_code == 403
    assert client.get(path).status_code == 401
    unknown = client.get(f"/orders/{uuid.uuid4()}/timeline", HTTP_AUTHORIZATION=token("ops", staff=True))
    assert unknown.status_code == 404


def test_the_order_admin_page_shows_the_timeline(order, platform_over_http, client):
    staff = User.objects.create_superuser("ops", "ops@example.com", "a-long-password")
    client.force_login(staff)

    page = client.get(f"/admin/orders/order/{order.id}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert f"Timeline of cart {order.cart_id}" in html
    assert "Partial" not in html  # the session was passed on: every service answered
    assert html.index("<td>cart converted</td>") < html.index("<td>order confirmed</td>")
    assert html.index("<td>order confirmed</td>") < html.index("<td>push message stored</td>")


def test_every_service_documents_its_part_in_its_schema(settings, client):
    for name in SERVICES:
        settings.ROOT_URLCONF = get_service(name).urlconf
        schema = client.get("/schema", HTTP_ACCEPT="application/json").json()
        assert "/events/trail" in schema["paths"], name
    settings.ROOT_URLCONF = get_service("order").urlconf
    assert "/orders/{order_id}/timeline" in client.get("/schema", HTTP_ACCEPT="application/json").json()["paths"]
