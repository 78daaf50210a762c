"""POST /orders with an Idempotency-Key: a retried order request asks inventory once."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections, transaction
from django.utils import timezone

from apps.events.models import OutboxEvent
from apps.idempotency.models import IdempotencyKey
from apps.orders.events import DATABASE
from apps.orders.tests.factories import CatalogProductFactory
from shop.identity import issue_token
from testsupport.concurrency import ConcurrentCalls, assert_answered_once_and_replayed

pytestmark = pytest.mark.django_db(databases=["order"])

JOHN = "550e8400-e29b-41d4-a716-446655440000"
JANE = "550e8400-e29b-41d4-a716-446655440001"
LAPTOP = {"items": [{"product_sku": "LAP-001", "quantity": 1}]}


class Requests(ConcurrentCalls):
    database = DATABASE


@pytest.fixture
def api(service_client):
    return service_client("order", HTTP_X_CUSTOMER_ID=JOHN)


@pytest.fixture
def catalog():
    CatalogProductFactory(sku="LAP-001", price=Decimal("999.99"))
    CatalogProductFactory(sku="PHN-001", price=Decimal("699.99"))


def order(client, key, payload=LAPTOP):
    return client.post("/orders", payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


def requested():
    return list(OutboxEvent.objects.using(DATABASE).filter(event_type="order-requested").order_by("id"))


def keys():
    return list(IdempotencyKey.objects.using(DATABASE).order_by("id"))


def test_a_retry_gets_the_first_request_id_and_asks_for_stock_once(api, catalog):
    # given
    first = order(api, "order-1")
    assert first.status_code == 202

    # when
    retry = order(api, "order-1")

    # then the same request id, and one order-requested
    assert retry.status_code == 202
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    [event] = requested()
    assert event.payload["cart_id"] == first.json()["cart_id"]
    [key] = keys()
    assert (key.caller, key.response_status) == (f"trusted:{JOHN}", 202)
    # and without the key, each request stands alone as before
    assert api.post("/orders", LAPTOP, format="json").json()["cart_id"] != first.json()["cart_id"]


def test_the_same_key_with_another_body_is_422_and_asks_for_nothing(api, catalog):
    # given
    order(api, "k")
    [before] = keys()

    # when
    response = order(api, "k", {"items": [{"product_sku": "PHN-001", "quantity": 3}]})

    # then
    assert response.status_code == 422
    assert list(response.json()) == ["Idempotency-Key"]
    assert len(requested()) == 1
    [after] = keys()
    assert (after.fingerprint, after.response_body, after.created_at) == (
        before.fingerprint,
        before.response_body,
        before.created_at,
    )


def test_customers_with_equal_keys_each_get_their_own_request(service_client, catalog):
    john = order(service_client("order", HTTP_X_CUSTOMER_ID=JOHN), "same")
    jane = order(service_client("order", HTTP_X_CUSTOMER_ID=JANE), "same")

    assert (john.status_code, jane.status_code) == (202, 202)
    assert (john.json()["customer_id"], jane.json()["customer_id"]) == (JOHN, JANE)
    assert "Idempotent-Replayed" not in jane
    assert sorted(e.payload["customer_id"] for e in requested()) == [JOHN, JANE]


def test_verified_customers_with_equal_keys_do_not_collide(service_client, catalog, settings):
    # given AUTH_MODE=jwt: the caller is the token's subject
    settings.AUTH_MODE = "jwt"
    settings.AUTH_JWT_SECRET = "test-secret-of-at-least-thirty-two-bytes"

    def as_customer(customer_id):
        return service_client("order", HTTP_AUTHORIZATION=f"Bearer {issue_token(subject=customer_id)}")

    # when
    john = order(as_customer(JOHN), "same")
    jane = order(as_customer(JANE), "same")
    john_again = order(as_customer(JOHN), "same")

    # then
    assert (john.json()["customer_id"], jane.json()["customer_id"]) == (JOHN, JANE)
    assert john_again.json() == john.json()
    assert len(requested()) == 2
    assert sorted(k.caller for k in keys()) == [f"customer:{JOHN}", f"customer:{JANE}"]


def test_an_error_is_not_kept_so_a_retry_after_it_runs_again(api, catalog):
    # given a request for a product the order service does not know yet: 404, nothing done
    payload = {"items": [{"product_sku": "NEW-001", "quantity": 1}]}
    refused = order(api, "k", payload)
    assert refused.status_code == 404
    assert keys() == []

    # when the product arrives in the catalog and the client retries
    CatalogProductFactory(sku="NEW-001")
    retry = order(api, "k", payload)

    # then it ran
    assert retry.status_code == 202
    assert "Idempotent-Replayed" not in retry
    assert len(requested()) == 1


def test_an_expired_key_counts_as_absent(api, catalog, settings):
    # given a key first used longer ago than IDEMPOTENCY_TTL
    first = order(api, "k")
    IdempotencyKey.objects.using(DATABASE).update(
        created_at=timezone.now() - settings.IDEMPOTENCY_TTL - timedelta(seconds=1)
    )

    # when
    again = order(api, "k")

    # then a new request
    assert again.status_code == 202
    assert again.json()["cart_id"] != first.json()["cart_id"]
    assert len(requested()) == 2
    [key] = keys()
    assert json.loads(key.response_body)["cart_id"] == again.json()["cart_id"]


def test_a_key_within_its_lifetime_is_replayed(api, catalog, settings):
    first = order(api, "k")
    IdempotencyKey.objects.using(DATABASE).update(
        created_at=timezone.now() - settings.IDEMPOTENCY_TTL + timedelta(minutes=1)
    )

    assert order(api, "k").json()["cart_id"] == first.json()["cart_id"]
    assert len(requested()) == 1


@pytest.mark.django_db(databases=["order"], transaction=True)
def test_two_concurrent_requests_with_one_key_ask_once_and_both_get_its_answer(api, catalog):
    # given two requests with one key: the first held up writing its event (the test locks the
    # outbox), the second by the key the first has claimed
    requests = Requests(lambda: order(api, "k"), lambda: order(api, "k"))
    with transaction.atomic(using=DATABASE):
        with connections[DATABASE].cursor() as cursor:
            cursor.execute("LOCK TABLE outbox IN EXCLUSIVE MODE")
        requests.start()
        requests.wait_until_all_blocked()

    # when both proceed
    responses = requests.join()

    # then
    assert_answered_once_and_replayed(responses, status=202)
    [event] = requested()
    assert event.payload["cart_id"] == responses[0].json()["cart_id"]
