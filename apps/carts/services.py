"""Cart writes. A cart is edited while unlocked; converting it locks it and asks for stock."""

from uuid import UUID, uuid4

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from apps.carts.enums import CartStatus
from apps.carts.events import DATABASE, record_order_requested
from apps.carts.models import Cart, CartItem, CatalogProduct
from apps.events.contracts import MAX_QUANTITY
from shop.errors import Conflict, InvalidRequest, NotFound

MAX_LINE_QUANTITY = MAX_QUANTITY  # units of one SKU per cart (the lines per cart: settings.CART_MAX_LINES)

# CartItem's table (carts_cartitem) and its one-line-per-SKU constraint, in one statement. It also
# answers how many lines the cart had and whether this SKU was one of them: the subquery reads the
# table as it was before the statement (PostgreSQL gives a data-modifying WITH and the query around it
# one snapshot).
_ADD_TO_LINE = """
WITH line AS (
    INSERT INTO carts_cartitem (cart_id, product_sku, quantity, added_at)
    VALUES (%(cart)s, %(sku)s, %(quantity)s, now())
    ON CONFLICT (cart_id, product_sku) DO UPDATE SET quantity = carts_cartitem.quantity + EXCLUDED.quantity
    RETURNING quantity
)
SELECT line.quantity, before.lines, before.has_sku FROM line, (
    SELECT count(*) AS lines, coalesce(bool_or(product_sku = %(sku)s), false) AS has_sku
    FROM carts_cartitem WHERE cart_id = %(cart)s
) AS before
"""


def cart_add_item(*, customer_id: UUID, product_sku: str, quantity: int) -> Cart:
    """Add ``quantity`` of a product, creating the customer's active cart when there is none."""
    if quantity < 1:
        raise InvalidRequest("The quantity must be at least 1.", field="quantity")
    if quantity > MAX_LINE_QUANTITY:
        raise InvalidRequest(f"At most {MAX_LINE_QUANTITY} units of one product per cart.", field="quantity")
    if not CatalogProduct.objects.filter(sku=product_sku, deleted=False).exists():
        raise NotFound(f"No product with SKU {product_sku!r}.", field="product_sku")
    with transaction.atomic(using=DATABASE):
        cart, new = _editable_cart(customer_id, create=True)
        # One statement adds the line or adds to it (the cart row is locked: no one else is adding).
        with connections[DATABASE].cursor() as cursor:
            cursor.execute(_ADD_TO_LINE, {"cart": cart.pk, "sku": product_sku, "quantity": quantity})
            total, lines, had_line = cursor.fetchone()
        if not had_line and lines >= settings.CART_MAX_LINES:
            # Raising rolls the new line back. A full cart still takes more of the products it holds.
            raise Conflict(
                f"The cart has the most lines a cart may have ({settings.CART_MAX_LINES}); "
                "remove a product before adding another."
            )
        if total > MAX_LINE_QUANTITY:
            raise InvalidRequest(f"At most {MAX_LINE_QUANTITY} units of one product per cart.", field="quantity")
        if not new:  # a cart created by this request is active, with nothing to clear
            _touch(cart)
        _read_lines(cart)  # for the answer
    return cart


def cart_remove_item(*, customer_id: UUID, product_sku: str) -> Cart:
    with transaction.atomic(using=DATABASE):
        cart, _ = _editable_cart(customer_id, create=False)
        deleted, _ = CartItem.objects.filter(cart=cart, product_sku=product_sku).delete()
        if not deleted:
            raise NotFound(f"SKU {product_sku!r} is not in the cart.")
        _touch(cart)
    return cart


_CONVERTED = """
UPDATE carts_cart SET cart_locked = true, status = %s, status_reason = '', converted_at = %s, updated_at = %s,
    conversions = %s
WHERE id = %s
"""


def cart_convert(*, customer_id: UUID) -> Cart:
    """Lock the active cart and record order-requested, in one transaction."""
    with transaction.atomic(using=DATABASE):
        cart, _ = _editable_cart(customer_id, create=False, missing=InvalidRequest("The cart is empty."))
        _read_lines(cart)  # read once: for the event and for the answer
        if not cart.items.all():
            raise InvalidRequest("The cart is empty.")
        cart.cart_locked = True
        cart.status = CartStatus.PROCESSING
        cart.status_reason = ""
        cart.converted_at = cart.updated_at = timezone.now()
        cart.conversions += 1
        with connections[DATABASE].cursor() as cursor:
            cursor.execute(_CONVERTED, [cart.status, cart.converted_at, cart.updated_at, cart.conversions, cart.pk])
        record_order_requested(cart)
    return cart


def cart_unlock_rejected(*, cart_id: UUID, reason: str, attempt: int | None = None) -> bool:
    """Inventory holds no stock for the cart: it can be edited and converted again. True when unlocked.

    Only the attempt the rejection is about (when it says): a late rejection of an earlier one
    leaves a cart converted since alone.
    """
    carts = Cart.objects.filter(id=cart_id, status=CartStatus.PROCESSING)
    if attempt is not None:
        carts = carts.filter(conversions__lte=attempt)  # not one converted again since
    # updated_at moves with the status (an UPDATE does not set auto_now): the cart's timeline dates its outcome by it.
    return bool(
        carts.update(
            status=CartStatus.STOCK_UNAVAILABLE, cart_locked=False, status_reason=reason[:50], updated_at=timezone.now()
        )
    )


def cart_mark_ordered(*, cart_id: UUID) -> bool:
    """The cart has its order: its outcome is final."""
    return bool(
        Cart.objects.filter(Q(id=cart_id), ~Q(status=CartStatus.ORDERED)).update(
            status=CartStatus.ORDERED, cart_locked=True, status_reason="", updated_at=timezone.now()
        )
    )


# The customer's unlocked cart, else the one processing (unlocked first), locked for the transaction.
_CART_COLUMNS = [field.attname for field in Cart._meta.concrete_fields]
_EDITABLE_OR_PROCESSING = f"""
SELECT {", ".join(_CART_COLUMNS)} FROM carts_cart WHERE customer_id = %s AND (NOT cart_locked OR status = %s)
ORDER BY cart_locked LIMIT 1 FOR UPDATE
"""  # noqa: S608 - the model's own column names
_LINE_COLUMNS = [field.attname for field in CartItem._meta.concrete_fields]
_LINES = f"SELECT {', '.join(_LINE_COLUMNS)} FROM carts_cartitem WHERE cart_id = %s ORDER BY added_at, id"  # noqa: S608


def _read_lines(cart: Cart) -> None:
    """The cart's lines, in one constant query, left where a prefetch would leave them (``cart.items.all()``)."""
    with connections[DATABASE].cursor() as cursor:
        cursor.execute(_LINES, [cart.pk])
        lines = [CartItem.from_db(DATABASE, _LINE_COLUMNS, row) for row in cursor.fetchall()]
    # What prefetch_related_objects does once it has the rows: a queryset holding them, unevaluated SQL.
    items = CartItem.objects.using(DATABASE).filter(cart_id=cart.pk)
    items._result_cache, items._prefetch_done = lines, True
    cart._prefetched_objects_cache = {"items": items}


_NEW_CART = """
INSERT INTO carts_cart (id, customer_id, status, cart_locked, created_at, updated_at, conversions, status_reason)
VALUES (%s, %s, %s, false, now(), now(), 0, '')
ON CONFLICT (customer_id) WHERE NOT cart_locked DO NOTHING
RETURNING created_at, updated_at
"""


def _editable_cart(customer_id: UUID, *, create: bool, missing: Exception | None = None) -> tuple[Cart, bool]:
    """The customer's unlocked cart, locked for this transaction, and whether it was created now.

    409 while a cart is processing; with no cart at all, a new one (``create``) or ``missing``.
    One query finds (and locks) the unlocked cart or the processing one; a new cart is one INSERT
    that yields to a cart another request created a moment ago.
    """
    for _attempt in range(2):
        with connections[DATABASE].cursor() as cursor:
            cursor.execute(_EDITABLE_OR_PROCESSING, [customer_id, CartStatus.PROCESSING])
            row = cursor.fetchone()
        cart = Cart.from_db(DATABASE, _CART_COLUMNS, row) if row else None
        if cart is not None and not cart.cart_locked:
            return cart, False
        if cart is not None:
            raise Conflict("The cart is being converted to an order; it cannot change now.")
        if not create:
            raise missing or NotFound("The customer has no active cart.")
        cart = Cart(id=uuid4(), customer_id=customer_id, status=CartStatus.ACTIVE)
        with connections[DATABASE].cursor() as cursor:
            cursor.execute(_NEW_CART, [cart.id, customer_id, cart.status])
            created = cursor.fetchone()
        if created is not None:
            cart.created_at, cart.updated_at = created
            cart._state.adding, cart._state.db = False, DATABASE
            return cart, True
        # another request created it a moment ago: lock that one
    raise Conflict("The cart is changing concurrently; try again.")


def _touch(cart: Cart) -> None:
    """Editing a cart whose stock was unavailable makes it an ordinary active cart again."""
    cart.status = CartStatus.ACTIVE
    cart.status_reason = ""
    cart.save(update_fields=["status", "status_reason", "updated_at"])
