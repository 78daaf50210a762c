"""Checking the contract's invariants across the whole platform, as an operator (or a test) would.

Each service's rows are read through that service's own connection only, and joined here, in
Python, a chunk at a time (keyset pages of ``CHUNK`` rows, ``__in`` look-ups of the same size) or
through aggregate queries, so that an audit of a few hundred thousand rows stays small in memory.
Every check reads each database inside one read-only, repeatable-read transaction: one consistent
view per service. There is no single view across services, so each check reads the service that
acts first in the flow before the one that acts after it, and ignores rows newer than the audit.

Grace. The platform is asynchronous: a cart converted a moment ago is rightly still processing,
an event committed a moment ago is not published yet, a published event is not yet consumed.
Whatever happened less than ``grace`` before the audit started is *in flight*, counted but never
a violation: processing carts (from ``converted_at``), unpublished outbox rows (from
``occurred_at``), published events not yet notified, consumed or their stock returned (from
``published_at``), reservations whose order is not created yet and cancellations whose stock is
not back yet (from the reservation's or the order's last change), pending notifications (from
``created_at``). A handler that fails retries with backoff for minutes before it is dead-lettered,
so on a troubled platform an audit with the default grace reports work that is merely late. The
sure way, which tests and chaos runs take: stop the traffic, wait until the platform has drained,
then audit with ``grace=0``, which excuses nothing.

Bound. A saga always ends: a step that keeps failing is given up on (dead-lettered) after its last
retry, and its give-up ends the saga (stock back, cart unlocked, customer told). So no grace excuses
a cart still processing, or stock reserved without an order, for longer than the saga can take
(``saga_bound_seconds``: every retry of each step on its longest path, and a re-drive for each).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from apps.carts.enums import CartStatus
from apps.carts.models import Cart
from apps.email.models import EmailMessage
from apps.events.enums import ProcessingStatus
from apps.events.models import DeadLetter, OutboxEvent, ProcessedMessage
from apps.inventory.enums import MovementKind, ReservationStatus
from apps.inventory.models import InventoryItem, Reservation, StockMovement
from apps.notifications.enums import Audience, Channel, NotificationStatus
from apps.notifications.models import Notification
from apps.orders.enums import OrderStatus
from apps.orders.models import Order, OrderItem
from apps.push.models import PushMessage
from shop.registry import SERVICES, get_service
from shop.topology import subscriptions

CHUNK = 2000
KEPT_PER_CHECK = 1000  # violations kept for listing; all of them are counted
DEFAULT_GRACE_SECONDS = 60.0
# The saga's longest path of steps that may each be retried to the end and given up on:
# order-requested (inventory), stock-available (order), order.failed (inventory), stock.rejected (cart).
SAGA_STEPS_IN_SERIES = 4

# Orders that hold their stock: confirmed and not cancelled.
LIVE_ORDER_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
# The events that owe the customer one email and one push notification, and who publishes them.
NOTIFYING_EVENTS = {"order.created": "order", "order.cancelled": "order", "stock.rejected": "inventory"}


def saga_bound_seconds() -> float:
    """How long a saga may take at most before the audit calls it stranded, from the settings.

    Per step: each retry's longest backoff (``retry_countdown`` without its jitter) and one re-drive
    of a lost delivery; a minute more for the relay, the bridge and the handlers themselves.
    """
    retrying = sum(min(settings.HANDLER_RETRY_BACKOFF_MAX, 2**n) for n in range(settings.HANDLER_MAX_RETRIES))
    redrive = settings.REDRIVE_GRACE_SECONDS + settings.REDRIVE_INTERVAL_SECONDS
    return SAGA_STEPS_IN_SERIES * (retrying + redrive) + 60.0


def _db(service: str) -> str:
    return get_service(service).database


CART, ORDER, INVENTORY = _db("cart"), _db("order"), _db("inventory")
NOTIFICATION, EMAIL, PUSH = _db("notification"), _db("email"), _db("push")


# --- Results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    invariant: str  # the check that found it, e.g. "cart-outcomes"
    subject: str  # what is wrong: "cart <id>", "sku LAP-001", "order.created event <id>"
    detail: str


@dataclass
class CheckResult:
    name: str
    invariant: int  # the contract's invariant (1-4) this check is part of
    description: str
    examined: dict[str, int]  # what was looked at, with counts
    violations: list[Violation]  # the first KEPT_PER_CHECK
    violation_count: int

    @property
    def ok(self) -> bool:
        return self.violation_count == 0


@dataclass
class AuditReport:
    checked_at: datetime
    grace_seconds: float
    checks: list[CheckResult]
    bound_seconds: float = 0.0

    @property
    def violation_count(self) -> int:
        return sum(check.violation_count for check in self.checks)

    @property
    def ok(self) -> bool:
        return self.violation_count == 0

    @property
    def violations(self) -> list[Violation]:
        return [violation for check in self.checks for violation in check.violations]

    @property
    def summary(self) -> str:
        if self.ok:
            return f"audit: OK ({len(self.checks)} checks)"
        return f"audit: {self.violation_count} violation{'s' if self.violation_count != 1 else ''}"

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "summary": self.summary,
            "checked_at": self.checked_at.isoformat(),
            "grace_seconds": self.grace_seconds,
            "bound_seconds": self.bound_seconds,
            "violation_count": self.violation_count,
            "checks": [
                {
                    "name": check.name,
                    "invariant": check.invariant,
                    "description": check.description,
                    "ok": check.ok,
                    "examined": check.examined,
                    "violation_count": check.violation_count,
                    "violations": [asdict(v) for v in check.violations],
                }
                for check in self.checks
            ],
        }


@dataclass(frozen=True)
class Window:
    """When the audit looks: rows changed after ``cutoff`` (``grace`` before ``now``) are in flight,
    unless a saga is older than its ``bound``."""

    now: datetime
    grace: timedelta
    bound: timedelta = timedelta(days=365)

    @property
    def cutoff(self) -> datetime:
        return self.now - self.grace

    @property
    def stranded(self) -> datetime:
        """A saga step older than this should have been done or given up on, whatever the grace."""
        return self.now - self.bound

    def age(self, moment: datetime) -> str:
        return f"{(self.now - moment).total_seconds():.0f}s ago"


@dataclass
class _Findings:
    """What one check collects while it runs."""

    name: str
    invariant: int
    description: str
    examined: dict[str, int] = field(default_factory=dict)
    kept: list[Violation] = field(default_factory=list)
    total: int = 0

    def expect(self, *whats: str) -> None:
        """Count these from zero, so that they are reported (in this order) even when none is found."""
        for what in whats:
            self.examined.setdefault(what, 0)

    def count(self, what: str, n: int = 1) -> None:
        self.examined[what] = self.examined.get(what, 0) + n

    def violate(self, subject: str, detail: str) -> None:
        self.total += 1
        if len(self.kept) < KEPT_PER_CHECK:
            self.kept.append(Violation(self.name, subject, detail))

    def result(self) -> CheckResult:
        return CheckResult(self.name, self.invariant, self.description, self.examined, self.kept, self.total)


# --- Reading -----------------------------------------------------------------------------------


@contextmanager
def _snapshot(*aliases: str) -> Iterator[None]:
    """One read-only, repeatable-read transaction per database, each seeing one moment.

    Each snapshot is taken at its database's first query, so the order of the first queries is
    the order in which the services are seen. Inside an outer transaction (a test's) that one's
    view is used as it is.
    """
    with ExitStack() as stack:
        for alias in aliases:
            outermost = not connections[alias].in_atomic_block
            stack.enter_context(transaction.atomic(using=alias))
            if outermost:
                with connections[alias].cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _pages(queryset: QuerySet, *fields: str) -> Iterator[list[tuple]]:
    """The rows of ``queryset`` as (pk, *fields) tuples, ``CHUNK`` at a time, in primary key order.

    Keyset pages: each is one short query, whatever the size of the table.
    """
    size, last = CHUNK, None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page.values_list("pk", *fields)[:size])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _batches(values: Iterable) -> Iterator[list]:
    size, batch = CHUNK, []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sum_by(queryset: QuerySet, key: str, value: str) -> dict:
    rows = queryset.order_by().values(key).annotate(total=Sum(value)).values_list(key, "total")
    return {k: total or 0 for k, total in rows}


def _uuid(value) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return None


def _units(items: list[dict]) -> Counter:
    units = Counter()
    for line in items or []:
        units[line["product_sku"]] += int(line["quantity"])
    return units


# --- Invariant 1: every converted cart reaches exactly one outcome ------------------------------


def check_cart_outcomes(window: Window) -> CheckResult:
    """Ordered with exactly one order, or re-editable with none; processing only within the grace.

    Carts are read before orders: a cart the cart service saw ordered has its order already.
    Orders created after the audit started are left out (their carts were read before them).
    """
    found = _Findings("cart-outcomes", 1, "every converted cart has exactly one outcome")
    found.expect(
        "carts",
        "converted",
        "ordered",
        "re-editable after a rejection",
        "in flight (processing, younger than grace)",
        "never converted",
    )
    matched = 0
    with _snapshot(CART, ORDER):
        for page in _pages(Cart.objects.using(CART), "status", "converted_at", "updated_at"):
            found.count("carts", len(page))
            orders = defaultdict(list)
            for order_id, cart_id, status in (
                Order.objects.using(ORDER)
                .filter(cart_id__in=[row[0] for row in page], created_at__lte=window.now)
                .values_list("id", "cart_id", "status")
            ):
                orders[cart_id].append(f"{order_id} ({status})")
            for cart_id, status, converted_at, updated_at in page:
                its_orders = orders.get(cart_id, [])
                matched += len(its_orders)
                _judge_cart(found, window, f"cart {cart_id}", status, converted_at, updated_at, its_orders)
        all_orders = Order.objects.using(ORDER).filter(created_at__lte=window.now)
        total = all_orders.count()
        found.count("orders", total)
        found.count("orders of no cart (POST /orders)", max(total - matched, 0))
        for cart_id, n in (
            all_orders.order_by().values("cart_id").annotate(n=Count("id")).filter(n__gt=1).values_list("cart_id", "n")
        ):
            found.violate(f"cart {cart_id}", f"has {n} orders; a cart has at most one")
    return found.result()


def _judge_cart(
    found: _Findings,
    window: Window,
    subject: str,
    status: str,
    converted_at: datetime | None,
    updated_at: datetime,
    orders: list[str],
) -> None:
    if converted_at is not None or status != CartStatus.ACTIVE:
        found.count("converted")
    if status == CartStatus.ORDERED:
        found.count("ordered")
        if not orders:
            found.violate(subject, "is ordered, but the order service has no order for it")
    elif status == CartStatus.PROCESSING:
        since = converted_at or updated_at
        if since > window.cutoff and since > window.stranded:
            found.count("in flight (processing, younger than grace)")
            return
        outcome = (
            f"order {orders[0]} exists, but its order.created never reached the cart"
            if orders
            else "no order and no rejection reached it"
        )
        if since <= window.stranded:
            found.count("past the saga's bound")
            outcome += f"; past the saga's bound of {window.bound.total_seconds():.0f}s, no step was given up on"
        found.violate(subject, f"stuck processing since {since.isoformat()} ({window.age(since)}): {outcome}")
    else:  # active or stock-unavailable: editable, so no order may exist
        found.count("re-editable after a rejection" if converted_at else "never converted")
        if orders:
            state = f"{status} (re-editable)" if converted_at else f"{status} and was never converted"
            found.violate(subject, f"is {state} but has order {', '.join(orders)}: two outcomes")


# --- Invariant 2: stock is conserved -------------------------------------------------------------


def check_stock_conservation(window: Window) -> CheckResult:
    """Per SKU: on hand + units in live orders (+ units in flight) == stock put in; the ledger agrees.

    Orders are read before inventory. Units are in flight when a reservation younger than grace
    has no live order yet, when an order cancelled within grace still holds its reservation, and
    (counted negative) when a reservation released within grace belongs to an order that was
    still live when the orders were read.
    """
    found = _Findings(
        "stock-conservation",
        2,
        "on hand + units in confirmed orders == stock put in, per SKU; never negative; the ledger == on hand",
    )
    with _snapshot(ORDER, INVENTORY):
        in_orders = _sum_by(
            OrderItem.objects.using(ORDER).filter(order__status__in=LIVE_ORDER_STATUSES), "product_sku", "quantity"
        )
        cancelled_lately = list(
            Order.objects.using(ORDER)
            .filter(status=OrderStatus.CANCELLED, updated_at__gt=window.cutoff)
            .values_list("cart_id", flat=True)
        )
        on_hand = {}
        for page in _pages(InventoryItem.objects.using(INVENTORY), "quantity"):
            on_hand.update(page)
        put_in = _sum_by(
            StockMovement.objects.using(INVENTORY).filter(kind=MovementKind.ADJUSTED), "product_sku", "delta"
        )
        ledger = _sum_by(StockMovement.objects.using(INVENTORY), "product_sku", "delta")
        in_flight, carts_in_flight = _units_in_flight(window, cancelled_lately)

    skus = sorted(on_hand.keys() | in_orders.keys() | put_in.keys() | ledger.keys() | in_flight.keys())
    found.count("SKUs", len(skus))
    found.count("stock levels", len(on_hand))
    found.count("units on hand", sum(on_hand.values()))
    found.count("units in confirmed orders", sum(in_orders.values()))
    found.count("carts in flight (within grace)", carts_in_flight)
    found.count("units in flight (within grace)", sum(in_flight.values()))
    for sku in skus:
        have, held, moving = on_hand.get(sku, 0), in_orders.get(sku, 0), in_flight.get(sku, 0)
        added, net = put_in.get(sku, 0), ledger.get(sku, 0)
        subject = f"sku {sku}"
        if have < 0:
            found.violate(subject, f"{have} on hand: stock is negative")
        accounted = have + held + moving
        if accounted != added:
            flight = f" + {moving} in flight" if moving else ""
            gap = (
                f"{added - accounted} unit(s) missing" if accounted < added else f"{accounted - added} unit(s) too many"
            )
            found.violate(
                subject, f"{have} on hand + {held} in confirmed orders{flight} = {accounted}, but {added} put in: {gap}"
            )
        if net != have:
            found.violate(subject, f"its stock movements add up to {net}, but {have} are on hand")
    return found.result()


def _units_in_flight(window: Window, cancelled_lately: list) -> tuple[Counter, int]:
    """Units that left stock without an order to show for them yet (or came back before it was seen)."""
    reservations = Reservation.objects.using(INVENTORY)
    reserved_lately = dict(
        reservations.filter(status=ReservationStatus.RESERVED, updated_at__gt=window.cutoff).values_list(
            "cart_id", "items"
        )
    )
    released_lately = dict(
        reservations.filter(status=ReservationStatus.RELEASED, updated_at__gt=window.cutoff).values_list(
            "cart_id", "items"
        )
    )
    live = set()
    for batch in _batches(reserved_lately.keys() | released_lately.keys()):
        live.update(
            Order.objects.using(ORDER)
            .filter(cart_id__in=batch, status__in=LIVE_ORDER_STATUSES)
            .values_list("cart_id", flat=True)
        )
    held = {cart: items for cart, items in reserved_lately.items() if cart not in live}  # no order yet
    for batch in _batches(cart for cart in cancelled_lately if cart not in held):  # cancelled, stock not back
        held.update(
            reservations.filter(cart_id__in=batch, status=ReservationStatus.RESERVED).values_list("cart_id", "items")
        )
    units = Counter()
    for items in held.values():
        units.update(_units(items))
    returned = {cart: items for cart, items in released_lately.items() if cart in live}  # counted in orders too
    for items in returned.values():
        units.subtract(_units(items))
    return Counter({sku: n for sku, n in units.items() if n}), len(held) + len(returned)


# --- Invariant 3: one email and one push notification per event ---------------------------------


def check_event_notifications(window: Window) -> CheckResult:
    """Each order.created, order.cancelled and stock.rejected published before the cutoff has exactly
    one email and one push notification for the customer; no customer notification names another event."""
    found = _Findings(
        "event-notifications",
        3,
        "exactly one email and one push notification per order.created, order.cancelled, stock.rejected",
    )
    channels = (Channel.EMAIL, Channel.PUSH)
    found.expect(
        *(f"{event_type} events" for event_type in NOTIFYING_EVENTS),
        *(f"{channel} notifications" for channel in channels),
        "customer notifications caused by events",
    )
    notifications = Notification.objects.using(NOTIFICATION).filter(audience=Audience.CUSTOMER)
    by_source = defaultdict(list)
    for event_type, service in NOTIFYING_EVENTS.items():
        by_source[_db(service)].append(event_type)
    with _snapshot(*by_source, NOTIFICATION):
        for alias, event_types in by_source.items():
            events = OutboxEvent.objects.using(alias).filter(
                event_type__in=event_types, published_at__lte=window.cutoff
            )
            for page in _pages(events, "event_id", "event_type", "payload__order_id", "payload__cart_id"):
                counts = Counter(
                    notifications.filter(event_id__in=[row[1] for row in page]).values_list("event_id", "channel")
                )
                for _pk, event_id, event_type, order_id, cart_id in page:
                    found.count(f"{event_type} events")
                    about = f"order {order_id}" if order_id else f"cart {cart_id}"
                    for channel in channels:
                        n = counts[(event_id, channel)]
                        found.count(f"{channel} notifications", n)
                        if n != 1:
                            found.violate(
                                f"{event_type} event {event_id}",
                                f"{n} {channel} notifications for the customer ({about}); exactly 1 expected",
                            )
        caused = notifications.filter(event_id__isnull=False)
        for page in _pages(caused, "event_id", "event_type", "channel"):
            ids = {row[1] for row in page}
            known = set()
            for alias, event_types in by_source.items():
                known.update(
                    OutboxEvent.objects.using(alias)
                    .filter(event_id__in=ids, event_type__in=event_types)
                    .values_list("event_id", flat=True)
                )
            for notification_id, event_id, event_type, channel in page:
                found.count("customer notifications caused by events")
                if event_id not in known:
                    found.violate(
                        f"notification {notification_id}",
                        f"{channel} notification for {event_type or 'an'} event {event_id}, "
                        "which no service recorded as an order.created, order.cancelled or stock.rejected",
                    )
    return found.result()


def check_notification_delivery(window: Window) -> CheckResult:
    """Every notification older than the grace is sent (with its one email or push message) or failed;
    no email or push message was delivered for a notification that does not exist."""
    found = _Findings(
        "notification-delivery", 3, "every notification delivered once by the email or push service, or failed"
    )
    delivered_by = {Channel.EMAIL: (EmailMessage, EMAIL, "email"), Channel.PUSH: (PushMessage, PUSH, "push")}
    found.expect(
        *(f"notifications {status}" for status in NotificationStatus.values), "email messages", "push messages"
    )
    with _snapshot(NOTIFICATION, EMAIL, PUSH):
        notifications = Notification.objects.using(NOTIFICATION)
        for page in _pages(notifications, "channel", "status", "created_at"):
            delivered = set()
            for channel, (model, alias, _service) in delivered_by.items():
                ids = [row[0] for row in page if row[1] == channel]
                if ids:
                    delivered.update(
                        model.objects.using(alias)
                        .filter(notification_id__in=ids)
                        .values_list("notification_id", flat=True)
                    )
            for notification_id, channel, status, created_at in page:
                found.count(f"notifications {status}")
                service = delivered_by[channel][2]
                subject = f"{channel} notification {notification_id}"
                if status == NotificationStatus.SENT and notification_id not in delivered:
                    found.violate(subject, f"is marked sent, but the {service} service has no record of it")
                elif status == NotificationStatus.PENDING and created_at <= window.cutoff:
                    fate = (
                        f"the {service} service delivered it, but the report never came back"
                        if notification_id in delivered
                        else f"the {service} service never delivered it"
                    )
                    found.violate(subject, f"still pending, created {window.age(created_at)}: {fate}")
        for _channel, (model, alias, service) in delivered_by.items():
            # Only messages older than the audit: their notification was committed before it.
            messages = model.objects.using(alias).filter(created_at__lte=window.now)
            for page in _pages(messages, "notification_id"):
                ids = [row[1] for row in page]
                known = set(notifications.filter(id__in=ids).values_list("id", flat=True))
                found.count(f"{service} messages", len(page))
                for message_id, notification_id in page:
                    if notification_id not in known:
                        found.violate(
                            f"{service} message {message_id}",
                            f"delivered for notification {notification_id}, which does not exist",
                        )
    return found.result()


# --- Invariant 4: nothing lost, nothing done twice -----------------------------------------------


def check_inbox_unique(window: Window) -> CheckResult:
    """No consumer has recorded an event twice (the unique constraint should make this impossible)."""
    found = _Findings("inbox-unique", 4, "no event recorded twice by one consumer (processed_messages)")
    for service in SERVICES.values():
        with _snapshot(service.database):
            inbox = ProcessedMessage.objects.using(service.database)
            found.count("inbox rows", inbox.count())
            for message_id, service_name, n in (
                inbox.order_by()
                .values("message_id", "service_name")
                .annotate(n=Count("id"))
                .filter(n__gt=1)
                .values_list("message_id", "service_name", "n")
            ):
                found.violate(f"event {message_id}", f"recorded {n} times by {service_name} ({service.name} database)")
        found.count("databases")
    return found.result()


def check_outbox_published(window: Window) -> CheckResult:
    """No committed outbox row stays unpublished longer than the grace."""
    found = _Findings("outbox-published", 4, "no committed event left unpublished")
    for service in SERVICES.values():
        with _snapshot(service.database):
            outbox = OutboxEvent.objects.using(service.database)
            found.count("outbox rows", outbox.count())
            pending = outbox.filter(published_at__isnull=True)
            found.count("unpublished within grace", pending.filter(occurred_at__gt=window.cutoff).count())
            stale = pending.filter(occurred_at__lte=window.cutoff)
            for page in _pages(stale, "event_id", "event_type", "occurred_at", "publish_attempts", "last_error"):
                for _pk, event_id, event_type, occurred_at, attempts, error in page:
                    tried = f"; {attempts} failed attempt(s), last: {error[:200]}" if attempts else ""
                    found.violate(
                        f"{event_type} event {event_id}",
                        f"committed by {service.service_name} {window.age(occurred_at)}, never published{tried}",
                    )
    return found.result()


_DELIVERY_OUTCOMES = {
    ProcessingStatus.SUCCESS: "deliveries consumed",
    ProcessingStatus.DEAD_LETTERED: "deliveries dead-lettered (kept for replay)",
    ProcessingStatus.FAILED: "deliveries failing",
    None: "deliveries missing",
}


def check_events_consumed(window: Window) -> CheckResult:
    """Every event published before the cutoff is recorded as done (or dead-lettered, kept for replay)
    by every service subscribed to its topic."""
    found = _Findings("events-consumed", 4, "every published event consumed by each subscribed service")
    found.expect("published events", *_DELIVERY_OUTCOMES.values(), "dead letters awaiting replay")
    consumers = defaultdict(list)
    for subscription in subscriptions():
        consumers[subscription.topic].append(subscription.service)
    consumer_databases = {service.database for services in consumers.values() for service in services}
    for producer in SERVICES.values():
        with _snapshot(producer.database, *sorted(consumer_databases - {producer.database})):
            published = OutboxEvent.objects.using(producer.database).filter(
                published_at__lte=window.cutoff, topic__in=list(consumers)
            )
            for page in _pages(published, "event_id", "topic", "published_at"):
                found.count("published events", len(page))
                for consumer in {service for row in page for service in consumers[row[2]]}:
                    events = [row[1:] for row in page if consumer in consumers[row[2]]]
                    _judge_consumption(found, window, producer, consumer, events)
    for service in SERVICES.values():
        found.count(
            "dead letters awaiting replay",
            DeadLetter.objects.using(service.database).filter(replayed_at__isnull=True).count(),
        )
    return found.result()


def _judge_consumption(found: _Findings, window: Window, producer, consumer, events: list[tuple]) -> None:
    """Look (event_id, topic, published_at) up in the consumer's inbox."""
    inbox = {
        message_id: (status, error)
        for message_id, status, error in ProcessedMessage.objects.using(consumer.database)
        .filter(service_name=consumer.service_name, message_id__in=[str(event[0]) for event in events])
        .values_list("message_id", "status", "error_message")
    }
    for event_id, topic, published_at in events:
        status, error = inbox.get(str(event_id), (None, None))
        found.count(_DELIVERY_OUTCOMES.get(status, _DELIVERY_OUTCOMES[None]))
        if status in (ProcessingStatus.SUCCESS, ProcessingStatus.DEAD_LETTERED):
            continue
        fate = f"its last attempt failed ({(error or '')[:200]})" if status else "it has no record of it"
        found.violate(
            f"{topic} event {event_id}",
            f"published by {producer.service_name} {window.age(published_at)}, "
            f"not consumed by {consumer.service_name}: {fate}",
        )


def check_stock_moved_once(window: Window) -> CheckResult:
    """A cart reserves each SKU once (again only after a release: its order could not be made and the
    cart asked again); a cancelled order returns each SKU once."""
    found = _Findings("stock-moved-once", 4, "at most one reservation per cart and SKU, one return per order and SKU")
    movements = StockMovement.objects.using(INVENTORY)
    with _snapshot(INVENTORY):
        released = Counter(
            {
                (reference, sku): n
                for reference, sku, n in movements.filter(kind=MovementKind.RELEASED)
                .order_by()
                .values("reference", "product_sku")
                .annotate(n=Count("id"))
                .values_list("reference", "product_sku", "n")
            }
        )
        for kind, owner in ((MovementKind.RESERVED, "cart"), (MovementKind.RETURNED, "order")):
            of_kind = movements.filter(kind=kind)
            found.count(f"{kind} movements", of_kind.count())
            for reference, sku, n, units in (
                of_kind.order_by()
                .values("reference", "product_sku")
                .annotate(n=Count("id"), units=Sum("delta"))
                .filter(n__gt=1)
                .values_list("reference", "product_sku", "n", "units")
            ):
                again = released[(reference, sku)] if kind == MovementKind.RESERVED else 0
                if n - again <= 1:
                    found.count("reserved again after a release")
                    continue
                after = f", {again} released" if again else ""
                found.violate(
                    f"{reference or '(no reference)'} sku {sku}",
                    f"{n} {kind} movements ({units:+d} units{after}); a {owner} moves a SKU's stock once",
                )
    return found.result()


def check_reservations_settled(window: Window) -> CheckResult:
    """No stock stays reserved for a cart without an order past the saga's bound: the order is made,
    or its step is given up on and the stock released. (Cancelled orders: cancellations-returned.)

    Inventory is read before the orders: a reservation seen has its order by the time orders are read.
    """
    found = _Findings("reservations-settled", 2, "no stock reserved without an order past the saga's bound")
    found.expect("reservations held", "with an order", "in flight (within the bound)")
    with _snapshot(INVENTORY, ORDER):
        held = Reservation.objects.using(INVENTORY).filter(status=ReservationStatus.RESERVED)
        for page in _pages(held, "updated_at", "items"):
            found.count("reservations held", len(page))
            ordered = set(
                Order.objects.using(ORDER)
                .filter(cart_id__in=[row[0] for row in page])
                .values_list("cart_id", flat=True)
            )
            for cart_id, updated_at, items in page:
                if cart_id in ordered:
                    found.count("with an order")
                elif updated_at > window.stranded:
                    found.count("in flight (within the bound)")
                else:
                    units = ", ".join(f"{n} x {sku}" for sku, n in sorted(_units(items).items()))
                    found.violate(
                        f"cart {cart_id}",
                        f"stock reserved {window.age(updated_at)} ({units}), past the saga's bound of "
                        f"{window.bound.total_seconds():.0f}s: no order was made and the stock never came back",
                    )
    return found.result()


def check_cancellations_returned(window: Window) -> CheckResult:
    """Every order.cancelled published before the cutoff has had its reservation released."""
    found = _Findings("cancellations-returned", 4, "every cancelled order's stock returned to inventory")
    with _snapshot(ORDER, INVENTORY):
        cancelled = OutboxEvent.objects.using(ORDER).filter(
            event_type="order.cancelled", published_at__lte=window.cutoff
        )
        found.expect("order.cancelled events", "stock returned", "without a reservation")
        for page in _pages(cancelled, "event_id", "payload__order_id", "payload__cart_id", "published_at"):
            carts = [cart for cart in (_uuid(row[3]) for row in page) if cart]
            reservations = dict(
                Reservation.objects.using(INVENTORY).filter(cart_id__in=carts).values_list("cart_id", "status")
            )
            for _pk, event_id, order_id, cart_id, published_at in page:
                found.count("order.cancelled events")
                status = reservations.get(_uuid(cart_id))
                if status is None:
                    found.count("without a reservation")
                elif status == ReservationStatus.RELEASED:
                    found.count("stock returned")
                else:
                    found.violate(
                        f"order {order_id}",
                        f"cancelled (order.cancelled {event_id} published {window.age(published_at)}), but the "
                        f"reservation of cart {cart_id} is still {status}: its stock never came back",
                    )
    return found.result()


CHECKS = (
    check_cart_outcomes,
    check_stock_conservation,
    check_event_notifications,
    check_notification_delivery,
    check_inbox_unique,
    check_outbox_published,
    check_events_consumed,
    check_stock_moved_once,
    check_cancellations_returned,
    check_reservations_settled,
)


def missing_databases() -> list[str]:
    """Service databases this process has no connection for (a process started with SHOP_SERVICE)."""
    return [s.database for s in SERVICES.values() if s.database not in connections.settings]


def run_audit(
    *,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    bound_seconds: float | None = None,
    now: datetime | None = None,
) -> AuditReport:
    """Run every check; ``now`` (default: the current time) is when the audit is taken to start,
    ``bound_seconds`` (default: ``saga_bound_seconds()``) how long a saga may take."""
    bound = saga_bound_seconds() if bound_seconds is None else bound_seconds
    window = Window(now=now or timezone.now(), grace=timedelta(seconds=grace_seconds), bound=timedelta(seconds=bound))
    checks = [check(window) for check in CHECKS]
    return AuditReport(checked_at=window.now, grace_seconds=grace_seconds, checks=checks, bound_seconds=bound)
