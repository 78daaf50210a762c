"""Simultaneous requests, on real connections in real threads.

To make the requests overlap for certain rather than by luck, the test's own connection holds the
lock they need, waits until PostgreSQL reports each of them waiting for it, and only then lets go.
"""

import threading
import uuid

import pytest
from django.db import transaction

from apps.carts.models import Cart, CartItem
from apps.carts.tests.factories import CartFactory, CartItemFactory, CatalogProductFactory
from apps.events.models import OutboxEvent
from testsupport.concurrency import WAIT_SECONDS, ConcurrentCalls

pytestmark = pytest.mark.django_db(databases=["cart"], transaction=True)


class Requests(ConcurrentCalls):
    database = "cart"


@pytest.fixture
def client_for(service_client):
    def make(customer_id):
        return service_client("cart", HTTP_X_CUSTOMER_ID=str(customer_id))

    return make


@pytest.fixture
def catalog():
    CatalogProductFactory(sku="LAP-001")
    CatalogProductFactory(sku="PHN-001")


def convert_with(client):
    return lambda: client.post("/cart/convert-to-order")


def add_with(client, sku, quantity):
    return lambda: client.post("/cart/items", {"product_sku": sku, "quantity": quantity}, format="json")


def statuses(responses):
    for response in responses:
        assert not isinstance(response, Exception), response
    return sorted(r.status_code for r in responses)


def test_two_simultaneous_converts_make_one_202_one_409_and_one_event(client_for, catalog):
    # given a cart with an item, locked by the test's connection
    customer_id = uuid.uuid4()
    cart = CartFactory(customer_id=customer_id)
    CartItemFactory(cart=cart, product_sku="LAP-001", quantity=2)
    requests = Requests(convert_with(client_for(customer_id)), convert_with(client_for(customer_id)))
    with transaction.atomic(using="cart"):
        Cart.objects.select_for_update().get(pk=cart.pk)
        requests.start()
        requests.wait_until_all_blocked()

    # when both proceed at once
    responses = requests.join()

    # then
    assert statuses(responses) == [202, 409]
    [accepted] = [r for r in responses if r.status_code == 202]
    assert accepted.json()["cart_id"] == str(cart.pk)
    [event] = OutboxEvent.objects.using("cart").all()
    assert event.event_type == "order-requested"
    assert event.payload["cart_id"] == str(cart.pk)
    cart.refresh_from_db()
    assert (cart.status, cart.cart_locked) == ("processing", True)


def test_many_converts_racing_without_help_publish_once(client_for, catalog):
    customer_id = uuid.uuid4()
    cart = CartFactory(customer_id=customer_id)
    CartItemFactory(cart=cart, product_sku="LAP-001")
    barrier = threading.Barrier(6)

    def convert():
        barrier.wait(WAIT_SECONDS)
        return client_for(customer_id).post("/cart/convert-to-order")

    responses = Requests(*[convert] * 6).start().join()

    assert statuses(responses) == [202, 409, 409, 409, 409, 409]
    assert OutboxEvent.objects.using("cart").count() == 1


@pytest.mark.parametrize("holder", ["rolls-back", "commits"])
def test_simultaneous_first_adds_by_one_customer_make_one_cart(client_for, catalog, holder):
    # given a third transaction inserting the customer's cart, not yet committed
    customer_id = uuid.uuid4()
    api = client_for(customer_id)
    requests = Requests(add_with(api, "LAP-001", 1), add_with(api, "LAP-001", 2))
    with transaction.atomic(using="cart"):
        held = Cart.objects.create(customer_id=customer_id)
        requests.start()
        requests.wait_until_all_blocked()  # both are inserting a cart too, and wait on the unique index
        if holder == "rolls-back":
            transaction.set_rollback(True, using="cart")

    # when they proceed
    responses = requests.join()

    # then both were added, to one and the same cart
    assert statuses(responses) == [201, 201]
    [cart] = Cart.objects.filter(customer_id=customer_id)
    assert {r.json()["id"] for r in responses} == {str(cart.pk)}
    if holder == "commits":
        assert cart.pk == held.pk
    assert list(CartItem.objects.filter(cart=cart).values_list("product_sku", "quantity")) == [("LAP-001", 3)]


def test_many_first_adds_racing_without_help_make_one_cart(client_for, catalog):
    customer_id = uuid.uuid4()
    barrier = threading.Barrier(8)

    def add():
        barrier.wait(WAIT_SECONDS)
        return client_for(customer_id).post("/cart/items", {"product_sku": "LAP-001", "quantity": 1}, format="json")

    responses = Requests(*[add] * 8).start().join()

    assert statuses(responses) == [201] * 8
    [cart] = Cart.objects.filter(customer_id=customer_id)
    assert list(CartItem.objects.filter(cart=cart).values_list("quantity", flat=True)) == [8]


def test_an_add_racing_a_convert_is_either_in_the_event_or_refused(client_for, catalog):
    # given
    customer_id = uuid.uuid4()
    cart = CartFactory(customer_id=customer_id)
    CartItemFactory(cart=cart, product_sku="LAP-001", quantity=1)
    api = client_for(customer_id)
    requests = Requests(add_with(api, "PHN-001", 1), convert_with(api))
    with transaction.atomic(using="cart"):
        Cart.objects.select_for_update().get(pk=cart.pk)
        requests.start()
        requests.wait_until_all_blocked()

    # when
    added, converted = requests.join()

    # then the event lists exactly what the locked cart holds
    assert converted.status_code == 202
    assert added.status_code in (201, 409)
    [event] = OutboxEvent.objects.using("cart").all()
    in_cart = sorted(CartItem.objects.filter(cart=cart).values_list("product_sku", "quantity"))
    in_event = sorted((i["product_sku"], i["quantity"]) for i in event.payload["items"])
    assert in_event == in_cart
    assert (("PHN-001", 1) in in_cart) == (added.status_code == 201)
    assert Cart.objects.filter(customer_id=customer_id).count() == 1
