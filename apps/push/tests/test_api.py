import uuid
from datetime import UTC, datetime, timedelta

import pytest

from apps.push.tests.factories import PushMessageFactory

pytestmark = pytest.mark.django_db(databases=["push"])

CUSTOMER = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
OTHER_CUSTOMER = uuid.UUID("550e8400-e29b-41d4-a716-446655440001")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def api(service_client):
    return service_client("push")


def ids(response):
    return [item["id"] for item in response.json()["results"]]


def test_lists_only_that_customers_messages_newest_first(api):
    # given
    older = PushMessageFactory(customer_id=CUSTOMER, created_at=T0)
    newer = PushMessageFactory(customer_id=CUSTOMER, created_at=T0 + timedelta(minutes=5))
    PushMessageFactory(customer_id=OTHER_CUSTOMER, created_at=T0 + timedelta(minutes=1))

    # when
    response = api.get(f"/notifications/{CUSTOMER}")

    # then
    assert response.status_code == 200
    assert ids(response) == [str(newer.id), str(older.id)]


def test_renders_the_contract_fields(api):
    push = PushMessageFactory(customer_id=CUSTOMER, title="Hello", message="World")

    [item] = api.get(f"/notifications/{CUSTOMER}").json()["results"]

    assert item == {
        "id": str(push.id),
        "customer_id": str(CUSTOMER),
        "title": "Hello",
        "message": "World",
        "created_at": item["created_at"],
    }
    assert item["created_at"].endswith("Z")
    assert datetime.fromisoformat(item["created_at"]) == push.created_at


def test_is_cursor_paginated(api):
    oldest, middle, newest = (
        PushMessageFactory(customer_id=CUSTOMER, created_at=T0 + timedelta(minutes=n)) for n in range(3)
    )

    first = api.get(f"/notifications/{CUSTOMER}?limit=2")

    assert first.status_code == 200
    assert ids(first) == [str(newest.id), str(middle.id)]
    assert first.json()["next"] is not None
    second = api.get(first.json()["next"])
    assert ids(second) == [str(oldest.id)]
    assert second.json()["next"] is None


def test_page_size_is_capped(api):
    PushMessageFactory.create_batch(3, customer_id=CUSTOMER)

    response = api.get(f"/notifications/{CUSTOMER}?limit=100000")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


def test_a_customer_without_messages_gets_an_empty_list(api):
    PushMessageFactory(customer_id=OTHER_CUSTOMER)

    response = api.get(f"/notifications/{CUSTOMER}")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_trailing_slash_and_upper_case_ids_are_accepted(api):
    push = PushMessageFactory(customer_id=CUSTOMER)

    assert ids(api.get(f"/notifications/{CUSTOMER}/")) == [str(push.id)]
    assert ids(api.get(f"/notifications/{str(CUSTOMER).upper()}")) == [str(push.id)]


@pytest.mark.parametrize("customer_id", ["42", "not-a-uuid", "550e8400-e29b-41d4-a716-44665544000Z"])
def test_malformed_customer_id_is_404_json(api, customer_id):
    response = api.get(f"/notifications/{customer_id}")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_there_is_no_unbounded_list_of_everyones_messages(api):
    PushMessageFactory()

    response = api.get("/notifications")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_schema_is_served(api):
    response = api.get("/schema")

    assert response.status_code == 200
    assert b"/notifications" in response.content


def test_health(api):
    response = api.get("/")

    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["service"] == "push-service"
