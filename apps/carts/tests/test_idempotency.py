"""POST /cart/convert-to-order with an Idempotency-Key: a retry is answered, never converted again."""

import json
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.carts.events import DATABASE
from apps.carts.models import Cart
from apps.carts.tests.factories import CartFactory, CartItemFactory, CatalogProductFactory
from apps.events.models import OutboxEvent
from apps.idempotency import services as idempotency
from apps.idempotency.models import IdempotencyKey
from testsupport.concurrency import ConcurrentCalls, assert_answered_once_and_replayed

pytestmark = pytest.mark.django_db(databases=["cart"])

CUSTOMER_ID = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
OTHER_CUSTOMER_ID = uuid.UUID("550e8400-e29b-41d4-a716-446655440001")
PATH = "/cart/convert-to-order"


class Requests(ConcurrentCalls):
    database = DATABASE


@pytest.fixture
def client_for(service_client):
    def make(customer_id=CUSTOMER_ID):
        return service_client("cart", HTTP_X_CUSTOMER_ID=str(customer_id))

    return make


@pytest.fixture
def cart():
    """The customer's active cart with a laptop in it."""
    CatalogProductFactory(sku="LAP-001")
    cart = CartFactory(customer_id=CUSTOMER_ID)
    CartItemFactory(cart=cart, product_sku="LAP-001", quantity=2)
    return cart


def convert(client, key, **extra):
    return client.post(PATH, HTTP_IDEMPOTENCY_KEY=key, **extra)


def events():
    return list(OutboxEvent.objects.using(DATABASE).order_by("id"))


def keys():
    return list(IdempotencyKey.objects.using(DATABASE).order_by("id"))


def test_a_retry_gets_the_first_answer_and_converts_nothing_again(client_for, cart):
    # given a converted cart
    first = convert(client_for(), "retry-1")
    assert first.status_code == 202

    # when the client retries with the same key
    retry = convert(client_for(), "retry-1")

    # then it gets the first answer again, marked as such, and nothing happened twice
    assert retry.status_code == 202
    assert retry.content == first.content  # byte for byte, keys in their order
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert len(events()) == 1
    [key] = keys()
    assert (key.caller, key.key, key.response_status) == (f"trusted:{CUSTOMER_ID}", "retry-1", 202)
    assert json.loads(key.response_body) == first.json()
    # while a retry without the key stands alone, as before
    assert client_for().post(PATH).status_code == 409


def test_the_key_answers_the_same_even_for_a_new_cart_within_its_lifetime(client_for, cart):
    # given the first cart converted with a key, then ordered, and a new cart filled
    first = convert(client_for(), "k")
    Cart.objects.filter(pk=cart.pk).update(status="ordered")
    new_cart = CartFactory(customer_id=CUSTOMER_ID)
    CartItemFactory(cart=new_cart, product_sku="LAP-001")

    # when the same key comes again
    again = convert(client_for(), "k")

    # then it is the first request's answer: the new cart is untouched
    assert again.json() == first.json()
    assert again.json()["cart_id"] == str(cart.pk)
    new_cart.refresh_from_db()
    assert (new_cart.status, new_cart.cart_locked) == ("active", False)
    assert len(events()) == 1


def test_the_same_key_with_a_different_request_is_422_and_writes_nothing(client_for, cart):
    # given
    first = convert(client_for(), "k")
    before = [(k.fingerprint, k.response_status, k.response_body, k.created_at) for k in keys()]

    # when the key comes with a different body
    response = convert(client_for(), "k", data={"note": "another request"}, format="json")

    # then
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()
    assert [(k.fingerprint, k.response_status, k.response_body, k.created_at) for k in keys()] == before
    assert len(events()) == 1
    assert first.status_code == 202


def test_two_customers_with_equal_keys_do_not_collide(client_for, cart):
    # given another customer with a cart of their own
    other_cart = CartFactory(customer_id=OTHER_CUSTOMER_ID)
    CartItemFactory(cart=other_cart, product_sku="LAP-001")

    # when both use the same key
    mine = convert(client_for(CUSTOMER_ID), "same-key")
    theirs = convert(client_for(OTHER_CUSTOMER_ID), "same-key")

    # then each converted their own cart
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["cart_id"] == str(cart.pk)
    assert theirs.json()["cart_id"] == str(other_cart.pk)
    assert "Idempotent-Replayed" not in theirs
    assert len(events()) == 2


def test_an_error_is_not_kept_so_a_retry_after_it_runs_again(client_for):
    # given a convert of an empty cart, refused
    refused = convert(client_for(), "k")
    assert refused.status_code == 400
    assert keys() == []

    # when the customer fills the cart and retries with the same key
    CatalogProductFactory(sku="LAP-001")
    cart = CartFactory(customer_id=CUSTOMER_ID)
    CartItemFactory(cart=cart, product_sku="LAP-001")
    retry = convert(client_for(), "k")

    # then it ran, and now it is kept
    assert retry.status_code == 202
    assert "Idempotent-Replayed" not in retry
    assert [k.response_status for k in keys()] == [202]
    assert len(events()) == 1


def test_an_expired_key_counts_as_absent(client_for, cart, settings):
    # given a key first used longer ago than IDEMPOTENCY_TTL, and a new cart since
    assert convert(client_for(), "k").status_code == 202
    expired = timezone.now() - settings.IDEMPOTENCY_TTL - timedelta(seconds=1)
    IdempotencyKey.objects.using(DATABASE).update(created_at=expired)
    Cart.objects.filter(pk=cart.pk).update(status="ordered")
    new_cart = CartFactory(customer_id=CUSTOMER_ID)
    CartItemFactory(cart=new_cart, product_sku="LAP-001")

    # when it comes again
    again = convert(client_for(), "k")

    # then it is a new request: the new cart is converted, and the key now remembers that answer
    assert again.status_code == 202
    assert again.json()["cart_id"] == str(new_cart.pk)
    assert "Idempotent-Replayed" not in again
    assert len(events()) == 2
    [key] = keys()
    assert json.loads(key.response_body)["cart_id"] == str(new_cart.pk)
    assert key.created_at > expired + timedelta(seconds=1)


# --- Concurrent requests, on real connections in real threads -----------------------------------


@pytest.mark.django_db(databases=["cart"], transaction=True)
def test_two_concurrent_converts_with_one_key_convert_once_and_both_get_its_answer(client_for, cart):
    # given two requests with one key, both held up: the first by the cart row the test has locked
    # (after it claimed the key), the second by the key the first has claimed
    requests = Requests(lambda: convert(client_for(), "k"), lambda: convert(client_for(), "k"))
    with transaction.atomic(using=DATABASE):
        Cart.objects.select_for_update().get(pk=cart.pk)
        requests.start()
        requests.wait_until_all_blocked()

    # when both proceed at once
    responses = requests.join()

    # then one converted and the other, having waited for it, got its answer
    assert_answered_once_and_replayed(responses, status=202)
    [event] = events()
    assert event.payload["cart_id"] == str(cart.pk)
    assert len(keys()) == 1


@pytest.mark.django_db(databases=["cart"], transaction=True)
def test_a_request_waiting_for_a_key_whose_first_request_rolls_back_goes_ahead(client_for, cart):
    # given a first request that has claimed the key and not finished
    fingerprint = idempotency.request_fingerprint(method="POST", path=PATH, body=b"")
    requests = Requests(lambda: convert(client_for(), "k"))
    with transaction.atomic(using=DATABASE):
        idempotency.idempotency_key_claim(
            database=DATABASE, caller=f"trusted:{CUSTOMER_ID}", key="k", fingerprint=fingerprint
        )
        requests.start()
        requests.wait_until_all_blocked()  # the second waits on the key

        # when the first fails and rolls back
        transaction.set_rollback(True, using=DATABASE)
    [response] = requests.join()

    # then the second did the work itself
    assert not isinstance(response, Exception), response
    assert response.status_code == 202
    assert "Idempotent-Replayed" not in response
    assert len(events()) == 1
    assert [k.response_status for k in keys()] == [202]
