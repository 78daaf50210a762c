"""Every event of the platform, defined once: topic, payload schema and schema version.

Payloads are exactly the contract's (fields may be added, none renamed). The envelope
(event_id, event_type, occurred_at, schema_version, correlation_id) travels in the Pub/Sub
message attributes, never in the payload. Events are validated when recorded and when consumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_serializer, model_validator

# What one order may hold, chosen so that every order the saga decides fits the order service's
# columns (total_amount: 14 digits, 2 places; an item's price: 12 digits, 2 places):
#     MAX_LINES x MAX_QUANTITY x MAX_PRICE = 100 x 10,000 x 999,999.99 = 999,999,990,000.00
#     <= 999,999,999,999.99, the largest amount of 14 digits with 2 places.
# The APIs refuse more first (a product's price, units of one SKU, and CART_MAX_LINES lines per cart
# and per POST /orders, a setting that may be lower than MAX_LINES). The events that carry prices into
# the order service's catalog copy and lines into its order step refuse more again, when recorded and
# when consumed: no handler is handed an order whose total its columns cannot store.
# apps/orders/tests/test_bounds.py checks the arithmetic against the columns.
MAX_PRICE = Decimal("999999.99")
MAX_QUANTITY = 10_000
MAX_LINES = 100

Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2),
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
]
Price = Annotated[
    Decimal,
    Field(ge=0, le=MAX_PRICE, decimal_places=2),
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
]
Sku = Annotated[str, Field(min_length=1, max_length=64)]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
# Which conversion of a cart a request is (1, 2, ...: a cart unlocked after a rejection may be converted
# again); every later step of the saga echoes it, so that a step of an earlier attempt (a dead letter
# replayed after the cart moved on) is recognized as stale. None: published before attempts were numbered.
Attempt = Annotated[int, Field(ge=1)] | None
# Why inventory holds no stock for a cart: too little stock, or a step of the saga given up on
# (the reservation itself, or the order after stock was reserved; the stock is back then).
RejectionReason = Literal["insufficient_stock", "reservation_failed", "order_failed"]


class Event(BaseModel):
    """A fact that happened in one service and that others may react to."""

    model_config = ConfigDict(extra="allow", frozen=True)

    topic: ClassVar[str]
    schema_version: ClassVar[int] = 1
    # The services that may publish it (the contract's "published by"): the bridge believes an
    # event only from its own topic and from one of these (the relay's ``producer`` attribute).
    producers: ClassVar[frozenset[str]]

    @classmethod
    def event_type(cls) -> str:
        return cls.topic


class Line(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    product_sku: Sku
    quantity: Quantity


Lines = Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]


class PricedLine(Line):
    price: Money


class ShortfallLine(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    product_sku: Sku
    requested: Annotated[int, Field(ge=1)]  # a sum over the request's lines for this SKU: no upper bound
    available: Annotated[int, Field(ge=0)]


# --- The saga ----------------------------------------------------------------------------------


class SagaStep(Event):
    """An event of the saga that names the cart's attempt; an unnumbered one leaves ``attempt`` out."""

    attempt: Attempt = None

    @model_serializer(mode="wrap")
    def _leave_out_no_attempt(self, serialize):
        data = serialize(self)
        if data.get("attempt", 0) is None:
            del data["attempt"]
        return data


class OrderRequested(SagaStep):
    topic = "order-requested"
    producers = frozenset({"cart-service", "order-service"})  # a converted cart, or POST /orders

    cart_id: UUID
    customer_id: UUID
    items: Lines


class StockAvailable(SagaStep):
    topic = "stock-available"
    producers = frozenset({"inventory-service"})

    cart_id: UUID
    customer_id: UUID
    items: Lines


class StockRejected(SagaStep):
    topic = "stock.rejected"
    producers = frozenset({"inventory-service"})

    cart_id: UUID
    customer_id: UUID
    reason: RejectionReason = "insufficient_stock"
    # empty unless the reason is insufficient_stock; at most one per line requested
    details: Annotated[list[ShortfallLine], Field(max_length=MAX_LINES)]


class OrderCreated(Event):
    topic = "order.created"
    producers = frozenset({"order-service"})

    order_id: UUID
    cart_id: UUID
    customer_id: UUID
    status: Literal["confirmed"] = "confirmed"
    total_amount: Money
    items: Annotated[list[PricedLine], Field(min_length=1, max_length=MAX_LINES)]


class OrderCancelled(Event):
    topic = "order.cancelled"
    producers = frozenset({"order-service"})

    order_id: UUID
    cart_id: UUID
    customer_id: UUID
    reason: str
    items: Annotated[list[Line], Field(max_length=MAX_LINES)]


class OrderFailed(SagaStep):
    """The order service gave up making the order for reserved stock (its stock-available was
    dead-lettered): inventory returns the stock and tells the cart and the customer."""

    topic = "order.failed"
    producers = frozenset({"order-service"})

    cart_id: UUID
    customer_id: UUID
    reason: Annotated[str, Field(max_length=500)]
    items: Lines


# --- State that other services keep a copy of --------------------------------------------------


class ProductChanged(Event):
    """The whole product after a change; ``version`` orders changes to one SKU."""

    topic = "product.changed"
    producers = frozenset({"product-service"})

    sku: Sku
    name: str
    description: str
    price: Price
    version: int
    deleted: bool = False


class CustomerChanged(Event):
    """The whole customer after a change; ``version`` orders changes to one customer."""

    topic = "customer.changed"
    producers = frozenset({"customer-service"})

    customer_id: UUID
    name: str
    email: str
    version: int
    deleted: bool = False


# --- Notification delivery -------------------------------------------------------------------


class EmailRequested(Event):
    """The notification service asks the email service to send one email."""

    topic = "email.requested"
    producers = frozenset({"notification-service"})

    notification_id: UUID
    customer_id: UUID | None = None
    to_address: str | None = None  # set for staff alerts; customers' addresses the email service knows
    subject: str
    body: str


class PushRequested(Event):
    """The notification service asks the push service to deliver one push message."""

    topic = "push.requested"
    producers = frozenset({"notification-service"})

    notification_id: UUID
    customer_id: UUID
    title: str
    message: str


class DeliveryReport(BaseModel):
    """What became of one notification's email or push message."""

    model_config = ConfigDict(extra="allow", frozen=True)

    notification_id: UUID
    channel: Literal["email", "push"]
    delivered: bool = True
    error: str = ""


class NotificationDelivered(Event):
    """The email or push service has delivered notifications (or given up on them), one report each.

    One event reports a whole batch the service handled together: under load one message, not one
    per notification. Version 1 carried a single report in the event itself (``notification_id``,
    ``channel``, ``delivered``, ``error``); it is still read, as a batch of one.
    """

    topic = "notification.delivered"
    schema_version = 2
    producers = frozenset({"email-service", "push-service"})

    reports: Annotated[list[DeliveryReport], Field(min_length=1, max_length=MAX_LINES)]

    @model_validator(mode="before")
    @classmethod
    def _one_report(cls, data):
        if isinstance(data, dict) and "reports" not in data and "notification_id" in data:
            return {"reports": [{key: data[key] for key in DeliveryReport.model_fields if key in data}]}
        return data


EVENTS: dict[str, type[Event]] = {
    cls.topic: cls
    for cls in (
        OrderRequested,
        StockAvailable,
        StockRejected,
        OrderCreated,
        OrderCancelled,
        OrderFailed,
        ProductChanged,
        CustomerChanged,
        EmailRequested,
        PushRequested,
        NotificationDelivered,
    )
}


@dataclass(frozen=True)
class Envelope:
    """What travels beside a payload, as Pub/Sub message attributes."""

    event_id: UUID
    event_type: str
    occurred_at: str
    schema_version: int
    correlation_id: UUID | None = None


def event_class(event_type: str) -> type[Event]:
    try:
        return EVENTS[event_type]
    except KeyError:
        raise LookupError(f"unknown event type {event_type!r}") from None
