"""A cart holds at most CART_MAX_LINES lines of at most MAX_LINE_QUANTITY units: what an order can store."""

import uuid

import pytest
from django.db import transaction

from apps.carts.models import Cart, CartItem, CatalogProduct
from apps.carts.services import MAX_LINE_QUANTITY
from apps.carts.tests.factories import CartFactory
from apps.events.contracts import MAX_PRICE, MAX_QUANTITY
from apps.events.models import OutboxEvent
from testsupport.concurrency import ConcurrentCalls

CUSTOMER_ID = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")


@pytest.fixture
def api(service_client):
    return service_client("cart", HTTP_X_CUSTOMER_ID=str(CUSTOMER_ID))


@pytest.fixture
def skus(settings):
    """A catalog of CART_MAX_LINES + 2 products at the largest price."""
    skus = [f"SKU-{n:03d}" for n in range(settings.CART_MAX_LINES + 2)]
    CatalogProduct.objects.bulk_create(
        CatalogProduct(sku=sku, name=sku, price=MAX_PRICE, version=1, deleted=False) for sku in skus
    )
    return skus


def add(api, sku, quantity=1):
    return api.post("/cart/items", {"product_sku": sku, "quantity": quantity}, format="json")


def stored():
    return (
        sorted(Cart.objects.values_list("id", "status", "updated_at")),
        sorted(CartItem.objects.values_list("product_sku", "quantity")),
        list(OutboxEvent.objects.using("cart").values_list("event_id", flat=True)),
    )


def a_cart_with_lines(count):
    cart = CartFactory(customer_id=CUSTOMER_ID)
    CartItem.objects.bulk_create(
        CartItem(cart=cart, product_sku=f"SKU-{n:03d}", quantity=MAX_LINE_QUANTITY) for n in range(count)
    )
    return cart


def test_the_cart_bounds_are_the_contracts():
    assert MAX_LINE_QUANTITY == MAX_QUANTITY


@pytest.mark.django_db(databases=["cart"])
def test_the_last_line_is_accepted_and_the_full_cart_converts(api, skus, settings):
    a_cart_with_lines(settings.CART_MAX_LINES - 1)

    added = add(api, skus[settings.CART_MAX_LINES - 1], MAX_LINE_QUANTITY)
    converted = api.post("/cart/convert-to-order")

    assert added.status_code == 201
    assert len(added.json()["items"]) == settings.CART_MAX_LINES
    assert converted.status_code == 202
    [event] = OutboxEvent.objects.using("cart").filter(event_type="order-requested")
    assert len(event.payload["items"]) == settings.CART_MAX_LINES
    assert {line["quantity"] for line in event.payload["items"]} == {MAX_LINE_QUANTITY}


@pytest.mark.django_db(databases=["cart"])
def test_a_line_past_the_most_is_409_naming_it_and_writes_nothing(api, skus, settings):
    a_cart_with_lines(settings.CART_MAX_LINES)
    before = stored()

    refused = add(api, skus[settings.CART_MAX_LINES])

    assert refused.status_code == 409
    assert f"most lines a cart may have ({settings.CART_MAX_LINES})" in refused.json()["detail"]
    assert stored() == before


@pytest.mark.django_db(databases=["cart"])
def test_a_full_cart_still_takes_more_of_what_it_holds_and_a_new_line_after_a_removal(api, skus, settings):
    cart = a_cart_with_lines(settings.CART_MAX_LINES)
    CartItem.objects.filter(cart=cart, product_sku=skus[0]).update(quantity=1)

    more = add(api, skus[0], 2)
    removed = api.delete(f"/cart/items/{skus[1]}")
    new_line = add(api, skus[settings.CART_MAX_LINES])

    assert (more.status_code, removed.status_code, new_line.status_code) == (201, 200, 201)
    assert CartItem.objects.get(cart=cart, product_sku=skus[0]).quantity == 3
    assert CartItem.objects.filter(cart=cart).count() == settings.CART_MAX_LINES


@pytest.mark.django_db(databases=["cart"])
def test_the_bound_is_a_setting(api, skus, settings):
    settings.CART_MAX_LINES = 2

    assert [add(api, sku).status_code for sku in skus[:3]] == [201, 201, 409]


class Requests(ConcurrentCalls):
    database = "cart"


@pytest.mark.django_db(databases=["cart"], transaction=True)
def test_two_simultaneous_adds_of_the_last_line_make_one_201_and_one_409(service_client, skus, settings):
    # given a cart one line short of full, locked by the test's connection
    cart = a_cart_with_lines(settings.CART_MAX_LINES - 1)
    client = service_client("cart", HTTP_X_CUSTOMER_ID=str(CUSTOMER_ID))
    requests = Requests(*(lambda sku=sku: add(client, sku) for sku in skus[-2:]))
    with transaction.atomic(using="cart"):
        Cart.objects.select_for_update().get(pk=cart.pk)
        requests.start()
        requests.wait_until_all_blocked()

    # when both proceed at once
    responses = requests.join()

    # then one took the last line
    assert sorted(r.status_code for r in responses) == [201, 409]
    assert CartItem.objects.filter(cart=cart).count() == settings.CART_MAX_LINES
