from uuid import UUID

from apps.carts.enums import CartStatus
from apps.carts.models import Cart


def cart_current(*, customer_id: UUID) -> Cart | None:
    """The customer's unlocked cart, else the one still processing, else None."""
    carts = Cart.objects.filter(customer_id=customer_id).prefetch_related("items")
    return (
        carts.filter(cart_locked=False).first()
        or carts.filter(status=CartStatus.PROCESSING).order_by("-converted_at").first()
    )
