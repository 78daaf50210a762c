"""A rejection or an order the cart service gives up on still decides the cart; a rejection of an
earlier attempt, replayed late, leaves a cart converted again since alone."""

import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from apps.carts.enums import CartStatus
from apps.carts.handlers import GIVE_UP_HOOKS, HANDLERS
from apps.carts.models import Cart
from apps.carts.services import cart_convert, cart_remove_item
from apps.carts.tests.factories import CartFactory, CartItemFactory
from apps.events.contracts import OrderCreated, StockRejected
from testsupport.events import envelope_of

pytestmark = pytest.mark.django_db(databases=["cart"])


def give_up(event) -> None:
    with transaction.atomic(using="cart"):
        GIVE_UP_HOOKS[event.topic](event, envelope_of(event), "RuntimeError: a bug")


def handle(event) -> None:
    with transaction.atomic(using="cart"):
        HANDLERS[event.topic](event, envelope_of(event))


def rejected(cart: Cart, *, reason="order_failed", attempt=None) -> StockRejected:
    return StockRejected(
        cart_id=cart.id, customer_id=cart.customer_id, reason=reason, details=[], attempt=attempt or cart.conversions
    )


def converted_cart() -> Cart:
    cart = CartFactory()
    CartItemFactory(cart=cart)
    return cart_convert(customer_id=cart.customer_id)


def test_a_rejection_given_up_on_still_unlocks_the_cart_with_its_reason():
    cart = converted_cart()

    give_up(rejected(cart))

    cart.refresh_from_db()
    assert (cart.status, cart.cart_locked, cart.status_reason) == (CartStatus.STOCK_UNAVAILABLE, False, "order_failed")


def test_an_order_given_up_on_still_makes_the_cart_ordered():
    cart = converted_cart()
    event = OrderCreated(
        order_id=uuid.uuid4(),
        cart_id=cart.id,
        customer_id=cart.customer_id,
        total_amount=Decimal("10.00"),
        items=[{"product_sku": "LAP-001", "quantity": 1, "price": "10.00"}],
    )

    give_up(event)

    cart.refresh_from_db()
    assert (cart.status, cart.cart_locked) == (CartStatus.ORDERED, True)


def test_a_late_rejection_of_an_earlier_attempt_leaves_the_cart_converted_again_alone():
    # given: attempt 1 rejected, the cart converted again
    cart = converted_cart()
    first = rejected(cart, reason="insufficient_stock")
    handle(first)
    cart = cart_convert(customer_id=cart.customer_id)
    assert cart.conversions == 2

    # when: attempt 1's rejection again (a dead letter replayed)
    handle(first)

    # then
    cart.refresh_from_db()
    assert (cart.status, cart.cart_locked) == (CartStatus.PROCESSING, True)


def test_editing_the_cart_clears_the_reason():
    cart = converted_cart()
    handle(rejected(cart))

    cart_remove_item(customer_id=cart.customer_id, product_sku=cart.items.get().product_sku)

    cart.refresh_from_db()
    assert (cart.status, cart.status_reason) == (CartStatus.ACTIVE, "")


def test_every_step_of_the_saga_the_cart_consumes_has_a_give_up():
    assert set(GIVE_UP_HOOKS) == set(HANDLERS) - {"product.changed"}  # a catalog copy waits for its replay
