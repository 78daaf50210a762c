import uuid
from decimal import Decimal

import pytest

from apps.carts.handlers import HANDLERS, on_order_created, on_product_changed, on_stock_rejected
from apps.carts.models import Cart, CatalogProduct
from apps.carts.services import cart_add_item
from apps.carts.tests.factories import CartFactory, CartItemFactory, CatalogProductFactory
from apps.events.contracts import (
    OrderCreated,
    PricedLine,
    ProductChanged,
    ShortfallLine,
    StockRejected,
)
from apps.events.models import OutboxEvent
from shop.errors import NotFound
from testsupport.events import envelope_of

pytestmark = pytest.mark.django_db(databases=["cart"])


def product_changed(*, version, sku="LAP-001", name="Laptop", price="999.99", deleted=False):
    return ProductChanged(sku=sku, name=name, description="", price=Decimal(price), version=version, deleted=deleted)


def apply_product(event):
    on_product_changed(event, envelope_of(ProductChanged))


def stock_rejected(cart):
    return StockRejected(
        cart_id=cart.id,
        customer_id=cart.customer_id,
        details=[ShortfallLine(product_sku="LAP-001", requested=5, available=2)],
    )


def order_created(cart):
    return OrderCreated(
        order_id=uuid.uuid4(),
        cart_id=cart.id,
        customer_id=cart.customer_id,
        total_amount=Decimal("999.99"),
        items=[PricedLine(product_sku="LAP-001", quantity=1, price=Decimal("999.99"))],
    )


def state(cart):
    cart.refresh_from_db()
    return cart.status, cart.cart_locked


def test_the_handler_map_names_the_contract_topics():
    assert {
        "product.changed": on_product_changed,
        "stock.rejected": on_stock_rejected,
        "order.created": on_order_created,
    } == HANDLERS


# --- product.changed: the cart's copy of the catalog ---------------------------------------------


def test_a_first_product_changed_makes_the_sku_addable():
    apply_product(product_changed(version=10, price="999.99"))

    product = CatalogProduct.objects.get(sku="LAP-001")
    assert (product.name, product.price, product.version, product.deleted) == (
        "Laptop",
        Decimal("999.99"),
        10,
        False,
    )
    cart = cart_add_item(customer_id=uuid.uuid4(), product_sku="LAP-001", quantity=1)
    assert cart.items.get().product_sku == "LAP-001"


def test_a_newer_version_applies():
    CatalogProductFactory(sku="LAP-001", name="Laptop", price=Decimal("999.99"), version=10)

    apply_product(product_changed(version=11, name="Laptop Pro", price="1299.00"))

    product = CatalogProduct.objects.get(sku="LAP-001")
    assert (product.name, product.price, product.version) == ("Laptop Pro", Decimal("1299.00"), 11)


@pytest.mark.parametrize("version", [9, 10], ids=["older", "equal"])
def test_an_older_or_equal_version_is_ignored(version):
    CatalogProductFactory(sku="LAP-001", name="Laptop", price=Decimal("999.99"), version=10)

    apply_product(product_changed(version=version, name="Stale", price="1.00"))

    product = CatalogProduct.objects.get(sku="LAP-001")
    assert (product.name, product.price, product.version) == ("Laptop", Decimal("999.99"), 10)


def test_a_tombstone_makes_the_sku_unknown():
    CatalogProductFactory(sku="LAP-001", version=10)

    apply_product(product_changed(version=11, deleted=True))

    assert CatalogProduct.objects.get(sku="LAP-001").deleted is True
    with pytest.raises(NotFound):
        cart_add_item(customer_id=uuid.uuid4(), product_sku="LAP-001", quantity=1)


def test_a_late_older_event_never_revives_a_deleted_product():
    # given a product created (v10) and deleted (v12)
    apply_product(product_changed(version=10))
    apply_product(product_changed(version=12, deleted=True))

    # when the update in between (v11) arrives late, and the creation is redelivered
    apply_product(product_changed(version=11, name="Laptop v11"))
    apply_product(product_changed(version=10))

    # then the product stays deleted
    product = CatalogProduct.objects.get(sku="LAP-001")
    assert (product.deleted, product.version) == (True, 12)
    with pytest.raises(NotFound):
        cart_add_item(customer_id=uuid.uuid4(), product_sku="LAP-001", quantity=1)


def test_a_tombstone_arriving_first_still_wins_over_the_older_creation():
    apply_product(product_changed(version=12, deleted=True))
    apply_product(product_changed(version=10))

    assert CatalogProduct.objects.get(sku="LAP-001").deleted is True
    with pytest.raises(NotFound):
        cart_add_item(customer_id=uuid.uuid4(), product_sku="LAP-001", quantity=1)


def test_a_product_recreated_with_a_newer_version_is_addable_again():
    apply_product(product_changed(version=10))
    apply_product(product_changed(version=11, deleted=True))

    apply_product(product_changed(version=12, price="899.00"))

    product = CatalogProduct.objects.get(sku="LAP-001")
    assert (product.deleted, product.price) == (False, Decimal("899.00"))
    cart_add_item(customer_id=uuid.uuid4(), product_sku="LAP-001", quantity=1)


def test_changes_to_one_sku_leave_others_alone():
    CatalogProductFactory(sku="PHN-001", name="Smartphone", version=5)

    apply_product(product_changed(version=10, deleted=True))

    phone = CatalogProduct.objects.get(sku="PHN-001")
    assert (phone.name, phone.deleted, phone.version) == ("Smartphone", False, 5)


# --- stock.rejected ------------------------------------------------------------------------------


def test_stock_rejected_unlocks_the_processing_cart_keeping_its_items():
    cart = CartFactory(processing=True)
    CartItemFactory(cart=cart, product_sku="LAP-001", quantity=5)

    on_stock_rejected(stock_rejected(cart), envelope_of(StockRejected))

    assert state(cart) == ("stock-unavailable", False)
    assert list(cart.items.values_list("product_sku", "quantity")) == [("LAP-001", 5)]
    assert not OutboxEvent.objects.using("cart").exists(), "the cart publishes nothing in reply"


def test_a_redelivered_stock_rejected_leaves_the_edited_cart_alone():
    # given a rejected cart the customer has edited since
    CatalogProductFactory(sku="PHN-001")
    cart = CartFactory(processing=True)
    event = stock_rejected(cart)
    on_stock_rejected(event, envelope_of(StockRejected))
    cart_add_item(customer_id=cart.customer_id, product_sku="PHN-001", quantity=1)

    # when the same event comes again
    on_stock_rejected(event, envelope_of(StockRejected))

    # then
    assert state(cart) == ("active", False)


@pytest.mark.parametrize(
    ("trait", "expected"),
    [
        ("ordered", ("ordered", True)),
        ("stock_unavailable", ("stock-unavailable", False)),
        (None, ("active", False)),
    ],
)
def test_stock_rejected_only_changes_a_processing_cart(trait, expected):
    cart = CartFactory(**({trait: True} if trait else {}))

    on_stock_rejected(stock_rejected(cart), envelope_of(StockRejected))

    assert state(cart) == expected


def test_stock_rejected_changes_only_the_named_cart():
    mine = CartFactory(processing=True)
    theirs = CartFactory(processing=True)

    on_stock_rejected(stock_rejected(mine), envelope_of(StockRejected))

    assert state(mine) == ("stock-unavailable", False)
    assert state(theirs) == ("processing", True)


def test_stock_rejected_for_an_unknown_cart_is_a_no_op():
    cart = CartFactory(processing=True)
    unknown = Cart(id=uuid.uuid4(), customer_id=cart.customer_id)

    on_stock_rejected(stock_rejected(unknown), envelope_of(StockRejected))

    assert state(cart) == ("processing", True)
    assert Cart.objects.count() == 1


# --- order.created -------------------------------------------------------------------------------


def test_order_created_makes_the_cart_ordered_and_locked():
    cart = CartFactory(processing=True)
    CartItemFactory(cart=cart, product_sku="LAP-001", quantity=1)

    on_order_created(order_created(cart), envelope_of(OrderCreated))

    assert state(cart) == ("ordered", True)
    assert list(cart.items.values_list("product_sku", "quantity")) == [("LAP-001", 1)]


def test_a_redelivered_order_created_leaves_the_customers_next_cart_alone():
    CatalogProductFactory(sku="PHN-001")
    cart = CartFactory(processing=True)
    event = order_created(cart)
    on_order_created(event, envelope_of(OrderCreated))
    new = cart_add_item(customer_id=cart.customer_id, product_sku="PHN-001", quantity=1)

    on_order_created(event, envelope_of(OrderCreated))

    assert state(cart) == ("ordered", True)
    assert state(new) == ("active", False)


def test_order_created_changes_only_the_named_cart():
    mine = CartFactory(processing=True)
    theirs = CartFactory(processing=True)

    on_order_created(order_created(mine), envelope_of(OrderCreated))

    assert state(theirs) == ("processing", True)


def test_a_late_stock_rejected_never_reopens_an_ordered_cart():
    cart = CartFactory(processing=True)
    on_order_created(order_created(cart), envelope_of(OrderCreated))

    on_stock_rejected(stock_rejected(cart), envelope_of(StockRejected))

    assert state(cart) == ("ordered", True)


def test_after_order_created_the_customer_gets_a_new_cart():
    CatalogProductFactory(sku="LAP-001")
    cart = CartFactory(processing=True)
    on_order_created(order_created(cart), envelope_of(OrderCreated))

    new = cart_add_item(customer_id=cart.customer_id, product_sku="LAP-001", quantity=1)

    assert new.pk != cart.pk
    assert state(cart) == ("ordered", True)
