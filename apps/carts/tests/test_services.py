import uuid

import pytest
from django.db import IntegrityError, transaction

from apps.carts import selectors, services
from apps.carts.models import Cart, CartItem
from apps.carts.services import MAX_LINE_QUANTITY, cart_add_item, cart_convert, cart_remove_item
from apps.carts.tests.factories import CartFactory, CartItemFactory, CatalogProductFactory
from apps.events.models import OutboxEvent
from shop.errors import Conflict, InvalidRequest, NotFound

pytestmark = pytest.mark.django_db(databases=["cart"])


@pytest.fixture
def customer_id():
    return uuid.uuid4()


@pytest.fixture
def laptop():
    return CatalogProductFactory(sku="LAP-001")


@pytest.fixture
def phone():
    return CatalogProductFactory(sku="PHN-001")


def outbox():
    return list(OutboxEvent.objects.using("cart").order_by("id"))


def items_of(cart):
    return {i.product_sku: i.quantity for i in CartItem.objects.filter(cart=cart)}


# --- cart_add_item -------------------------------------------------------------------------------


def test_add_creates_one_active_cart_and_then_reuses_it(customer_id, laptop, phone):
    first = cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=1)
    second = cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=4)
    third = cart_add_item(customer_id=customer_id, product_sku="PHN-001", quantity=1)

    assert first.pk == second.pk == third.pk
    assert Cart.objects.filter(customer_id=customer_id).count() == 1
    assert items_of(first) == {"LAP-001": 5, "PHN-001": 1}


@pytest.mark.parametrize("quantity", [0, -1, -10_000])
def test_add_refuses_a_quantity_below_one_even_on_an_existing_line(customer_id, laptop, quantity):
    cart = cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=10)

    with pytest.raises(InvalidRequest):
        cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=quantity)

    assert items_of(cart) == {"LAP-001": 10}


def test_add_refuses_a_quantity_below_one_without_creating_a_cart(customer_id, laptop):
    with pytest.raises(InvalidRequest):
        cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=0)

    assert not Cart.objects.exists()


def test_add_accepts_exactly_the_line_maximum(customer_id, laptop):
    cart = cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=MAX_LINE_QUANTITY)

    assert items_of(cart) == {"LAP-001": MAX_LINE_QUANTITY}


def test_add_over_the_line_maximum_rolls_back_the_cart_it_created(customer_id, laptop):
    # the cart is created before the quantity is checked: the refusal must take it back
    with pytest.raises(InvalidRequest):
        cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=MAX_LINE_QUANTITY + 1)

    assert not Cart.objects.exists()
    assert not CartItem.objects.exists()


@pytest.mark.parametrize("deleted", [False, True], ids=["never-seen", "tombstoned"])
def test_add_of_an_unknown_product_is_not_found(customer_id, deleted):
    if deleted:
        CatalogProductFactory(sku="OLD-001", deleted=True)

    with pytest.raises(NotFound) as raised:
        cart_add_item(customer_id=customer_id, product_sku="OLD-001", quantity=1)

    assert raised.value.field == "product_sku"
    assert not Cart.objects.exists()


def test_add_to_a_stock_unavailable_cart_makes_it_active_again(customer_id, laptop, phone):
    cart = CartFactory(customer_id=customer_id, stock_unavailable=True)
    CartItemFactory(cart=cart, product_sku="LAP-001", quantity=2)

    result = cart_add_item(customer_id=customer_id, product_sku="PHN-001", quantity=1)

    assert result.pk == cart.pk
    cart.refresh_from_db()
    assert (cart.status, cart.cart_locked) == ("active", False)
    assert items_of(cart) == {"LAP-001": 2, "PHN-001": 1}


def test_add_while_processing_is_a_conflict_and_creates_no_second_cart(customer_id, laptop):
    cart = CartFactory(customer_id=customer_id, processing=True)
    CartItemFactory(cart=cart, product_sku="LAP-001", quantity=1)

    with pytest.raises(Conflict):
        cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=1)

    assert Cart.objects.count() == 1
    assert items_of(cart) == {"LAP-001": 1}


def test_add_after_ordered_starts_a_new_cart(customer_id, laptop):
    ordered = CartFactory(customer_id=customer_id, ordered=True)
    CartItemFactory(cart=ordered, product_sku="LAP-001", quantity=1)

    new = cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=3)

    assert new.pk != ordered.pk
    assert (new.status, new.cart_locked) == ("active", False)
    assert items_of(new) == {"LAP-001": 3}
    assert items_of(ordered) == {"LAP-001": 1}


# --- cart_remove_item ----------------------------------------------------------------------------


def test_remove_from_a_stock_unavailable_cart_makes_it_active_again(customer_id):
    cart = CartFactory(customer_id=customer_id, stock_unavailable=True)
    CartItemFactory(cart=cart, product_sku="LAP-001")
    CartItemFactory(cart=cart, product_sku="PHN-001")

    cart_remove_item(customer_id=customer_id, product_sku="LAP-001")

    cart.refresh_from_db()
    assert cart.status == "active"
    assert items_of(cart) == {"PHN-001": 1}


def test_remove_without_a_cart_is_not_found(customer_id):
    with pytest.raises(NotFound):
        cart_remove_item(customer_id=customer_id, product_sku="LAP-001")

    assert not Cart.objects.exists()


def test_remove_while_processing_is_a_conflict(customer_id):
    cart = CartFactory(customer_id=customer_id, processing=True)
    CartItemFactory(cart=cart, product_sku="LAP-001")

    with pytest.raises(Conflict):
        cart_remove_item(customer_id=customer_id, product_sku="LAP-001")

    assert items_of(cart) == {"LAP-001": 1}


def test_remove_a_missing_line_is_not_found_and_keeps_the_status(customer_id):
    cart = CartFactory(customer_id=customer_id, stock_unavailable=True)
    CartItemFactory(cart=cart, product_sku="LAP-001")

    with pytest.raises(NotFound):
        cart_remove_item(customer_id=customer_id, product_sku="PHN-001")

    cart.refresh_from_db()
    assert cart.status == "stock-unavailable"


# --- cart_convert --------------------------------------------------------------------------------


def test_convert_locks_and_records_the_event_in_the_cart_database(customer_id, laptop):
    cart = cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=2)

    converted = cart_convert(customer_id=customer_id)

    assert converted.pk == cart.pk
    cart.refresh_from_db()
    assert (cart.status, cart.cart_locked) == ("processing", True)
    assert cart.converted_at is not None
    [event] = outbox()
    assert event.event_type == "order-requested"
    assert event.payload == {
        "cart_id": str(cart.pk),
        "customer_id": str(customer_id),
        "items": [{"product_sku": "LAP-001", "quantity": 2}],
        "attempt": 1,
    }


def test_convert_rolls_back_the_lock_when_the_event_cannot_be_recorded(customer_id, laptop, monkeypatch):
    # given an outbox that fails
    cart = cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=2)

    def broken_outbox(cart):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(services, "record_order_requested", broken_outbox)

    # when
    with pytest.raises(RuntimeError):
        cart_convert(customer_id=customer_id)

    # then the cart was not locked without its event
    cart.refresh_from_db()
    assert (cart.status, cart.cart_locked, cart.converted_at) == ("active", False, None)
    assert outbox() == []


def test_convert_of_a_stock_unavailable_cart_processes_it_again(customer_id):
    cart = CartFactory(customer_id=customer_id, stock_unavailable=True)
    CartItemFactory(cart=cart, product_sku="LAP-001", quantity=2)

    cart_convert(customer_id=customer_id)

    cart.refresh_from_db()
    assert (cart.status, cart.cart_locked) == ("processing", True)
    assert len(outbox()) == 1


@pytest.mark.parametrize(
    ("existing", "error"),
    [
        (None, InvalidRequest),
        ("empty-active", InvalidRequest),
        ("ordered", InvalidRequest),
        ("processing", Conflict),
    ],
)
def test_convert_refusals_write_nothing(customer_id, existing, error):
    if existing == "empty-active":
        CartFactory(customer_id=customer_id)
    elif existing is not None:
        CartItemFactory(cart=CartFactory(customer_id=customer_id, **{existing: True}), product_sku="LAP-001")
    before = sorted(Cart.objects.values_list("id", "status", "cart_locked", "updated_at"))

    with pytest.raises(error):
        cart_convert(customer_id=customer_id)

    assert sorted(Cart.objects.values_list("id", "status", "cart_locked", "updated_at")) == before
    assert outbox() == []


def test_convert_touches_only_the_callers_cart(customer_id, laptop):
    other = uuid.uuid4()
    cart_add_item(customer_id=customer_id, product_sku="LAP-001", quantity=1)
    theirs = cart_add_item(customer_id=other, product_sku="LAP-001", quantity=1)

    cart_convert(customer_id=customer_id)

    theirs.refresh_from_db()
    assert (theirs.status, theirs.cart_locked) == ("active", False)
    assert [e.payload["customer_id"] for e in outbox()] == [str(customer_id)]


# --- cart_current --------------------------------------------------------------------------------


def test_current_is_the_unlocked_cart_else_the_processing_one_else_none(customer_id):
    assert selectors.cart_current(customer_id=customer_id) is None

    CartFactory(customer_id=customer_id, ordered=True)
    assert selectors.cart_current(customer_id=customer_id) is None

    processing = CartFactory(customer_id=customer_id, processing=True)
    assert selectors.cart_current(customer_id=customer_id) == processing

    processing.status, processing.cart_locked = "stock-unavailable", False
    processing.save()
    assert selectors.cart_current(customer_id=customer_id) == processing


# --- What the database itself guarantees ---------------------------------------------------------


def test_the_database_refuses_a_second_unlocked_cart(customer_id):
    CartFactory(customer_id=customer_id)

    with pytest.raises(IntegrityError), transaction.atomic(using="cart"):
        CartFactory(customer_id=customer_id, stock_unavailable=True)


def test_the_database_allows_many_locked_carts_beside_one_unlocked(customer_id):
    CartFactory(customer_id=customer_id, ordered=True)
    CartFactory(customer_id=customer_id, ordered=True)
    CartFactory(customer_id=customer_id)

    assert Cart.objects.filter(customer_id=customer_id).count() == 3


@pytest.mark.parametrize(("status", "locked"), [("processing", False), ("ordered", False)])
def test_the_database_refuses_an_unlocked_cart_in_a_locked_status(customer_id, status, locked):
    with pytest.raises(IntegrityError), transaction.atomic(using="cart"):
        CartFactory(customer_id=customer_id, status=status, cart_locked=locked)


def test_the_database_refuses_a_line_below_one_and_a_second_line_per_sku(customer_id):
    cart = CartFactory(customer_id=customer_id)
    CartItemFactory(cart=cart, product_sku="LAP-001")

    with pytest.raises(IntegrityError), transaction.atomic(using="cart"):
        CartItemFactory(cart=cart, product_sku="LAP-001")
    with pytest.raises(IntegrityError), transaction.atomic(using="cart"):
        CartItemFactory(cart=cart, product_sku="PHN-001", quantity=0)
