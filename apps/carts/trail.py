"""The cart service's part of a cart's timeline: the cart itself (apps/events/trail.py has the rest)."""

from uuid import UUID

from apps.carts.enums import CartStatus
from apps.carts.events import DATABASE
from apps.carts.models import Cart
from apps.events.trail import Entry, Kind

SERVICE = "cart"


def trail(correlation_id: UUID) -> list[Entry]:
    """The cart whose id is the correlation id: created, converted (its latest attempt), its outcome."""
    cart = Cart.objects.using(DATABASE).filter(id=correlation_id).first()
    if cart is None:
        return []
    entries = [
        Entry(cart.created_at, SERVICE, Kind.STATE, "cart created", CartStatus.ACTIVE, f"customer {cart.customer_id}")
    ]
    if cart.converted_at is not None:
        entries.append(
            Entry(
                cart.converted_at,
                SERVICE,
                Kind.STATE,
                "cart converted",
                CartStatus.PROCESSING,
                f"attempt {cart.conversions}; {cart.items.count()} line(s)",
            )
        )
    if cart.status in (CartStatus.ORDERED, CartStatus.STOCK_UNAVAILABLE):
        reason = f"reason: {cart.status_reason}" if cart.status_reason else ""
        entries.append(Entry(cart.updated_at, SERVICE, Kind.STATE, f"cart {cart.status}", cart.status, reason))
    return entries


def is_cart(cart_id: UUID) -> bool:
    return Cart.objects.using(DATABASE).filter(id=cart_id).exists()
