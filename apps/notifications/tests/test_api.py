import uuid
from datetime import UTC, datetime, timedelta

import pytest

from apps.events.models import OutboxEvent
from apps.notifications.enums import Audience, Channel, NotificationStatus
from apps.notifications.models import Notification
from apps.notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db(databases=["notification"])

CUSTOMER = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
OTHER_CUSTOMER = uuid.UUID("550e8400-e29b-41d4-a716-446655440001")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def api(service_client):
    return service_client("notification")


def outbox_events():
    return list(OutboxEvent.objects.using("notification").order_by("id"))


def ids(response):
    return [item["id"] for item in response.json()["results"]]


# --- GET /notifications --------------------------------------------------------------------------


def test_list_is_newest_first_and_cursor_paginated(api):
    # given
    oldest, middle, newest = (NotificationFactory(created_at=T0 + timedelta(minutes=n)) for n in range(3))

    # when
    first = api.get("/notifications?limit=2")

    # then
    assert first.status_code == 200
    assert ids(first) == [str(newest.id), str(middle.id)]
    assert first.json()["next"] is not None
    assert "count" not in first.json()  # cursor pages: no COUNT over a growing table
    second = api.get(first.json()["next"])
    assert ids(second) == [str(oldest.id)]
    assert second.json()["next"] is None


def test_list_page_size_is_capped(api):
    NotificationFactory.create_batch(3)

    response = api.get("/notifications?limit=100000")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


def test_list_renders_the_contract_fields(api):
    notification = NotificationFactory(
        customer_id=CUSTOMER,
        channel=Channel.PUSH,
        title="Hello",
        message="World",
        event_type="order.created",
        event_id=uuid.uuid4(),
    )

    [item] = api.get("/notifications").json()["results"]

    assert item["id"] == str(notification.id)
    assert item["customer_id"] == str(CUSTOMER)
    assert item["channel"] == "push"
    assert item["title"] == "Hello"
    assert item["message"] == "World"
    assert item["status"] == "pending"
    assert item["event_type"] == "order.created"
    assert item["event_id"] == str(notification.event_id)
    assert item["created_at"].endswith("Z")
    assert datetime.fromisoformat(item["created_at"]) == notification.created_at


def test_list_filters_by_customer(api):
    mine = [NotificationFactory(customer_id=CUSTOMER, created_at=T0 + timedelta(minutes=n)) for n in range(2)]
    NotificationFactory(customer_id=OTHER_CUSTOMER)

    response = api.get(f"/notifications?customer_id={CUSTOMER}")

    assert response.status_code == 200
    assert ids(response) == [str(mine[1].id), str(mine[0].id)]


def test_list_filters_by_channel_status_event_and_audience(api):
    event_id = uuid.uuid4()
    email = NotificationFactory(channel=Channel.EMAIL, status=NotificationStatus.SENT, event_id=event_id)
    push = NotificationFactory(channel=Channel.PUSH, status=NotificationStatus.FAILED)
    alert = NotificationFactory(
        customer_id=None, audience=Audience.STOCK_MANAGER, recipient="stock@example.com", channel=Channel.EMAIL
    )

    assert ids(api.get("/notifications?channel=push")) == [str(push.id)]
    assert ids(api.get("/notifications?status=sent")) == [str(email.id)]
    assert ids(api.get("/notifications?status=failed")) == [str(push.id)]
    assert ids(api.get(f"/notifications?event_id={event_id}")) == [str(email.id)]
    assert ids(api.get("/notifications?audience=stock_manager")) == [str(alert.id)]


@pytest.mark.parametrize(
    "query",
    ["customer_id=not-a-uuid", "customer_id=550e8400", "channel=sms", "status=delivered", "event_id=42"],
)
def test_list_with_a_malformed_filter_is_400_json(api, query):
    NotificationFactory()

    response = api.get(f"/notifications?{query}")

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert response.json()  # names the problem


def test_list_of_a_customer_without_notifications_is_empty(api):
    NotificationFactory(customer_id=OTHER_CUSTOMER)

    response = api.get(f"/notifications?customer_id={CUSTOMER}")

    assert response.status_code == 200
    assert response.json()["results"] == []


# --- GET /notifications/{id} ---------------------------------------------------------------------


def test_retrieve_answers_the_notification(api):
    notification = NotificationFactory(customer_id=CUSTOMER, title="Order confirmed")

    response = api.get(f"/notifications/{notification.id}")

    assert response.status_code == 200
    assert response.json()["id"] == str(notification.id)
    assert response.json()["title"] == "Order confirmed"
    assert response.json()["customer_id"] == str(CUSTOMER)
    assert api.get(f"/notifications/{notification.id}/").status_code == 200


def test_retrieve_unknown_id_is_404_json(api):
    NotificationFactory()

    response = api.get(f"/notifications/{uuid.uuid4()}")

    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("notification_id", ["42", "not-a-uuid", "550e8400-e29b-41d4-a716-44665544000Z"])
def test_retrieve_malformed_id_is_404_json(api, notification_id):
    response = api.get(f"/notifications/{notification_id}")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_unknown_path_is_404_json(api):
    response = api.get("/no-such-thing")

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
    assert response.json()["service"] == "notification-service"


# --- POST /notifications ------------------------------------------------------------------------


def test_create_email_answers_201_pending_and_requests_one_email(api):
    # when
    response = api.post(
        "/notifications",
        {"customer_id": str(CUSTOMER), "channel": "email", "message": "Your parcel is on its way", "title": "Shipped"},
        format="json",
    )

    # then
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert body["channel"] == "email"
    assert body["customer_id"] == str(CUSTOMER)
    assert body["title"] == "Shipped"
    assert body["message"] == "Your parcel is on its way"
    assert body["event_type"] == ""
    assert body["event_id"] is None
    notification = Notification.objects.get(id=body["id"])
    assert notification.audience == Audience.CUSTOMER
    [event] = outbox_events()
    assert event.event_type == event.topic == "email.requested"
    assert event.payload == {
        "notification_id": body["id"],
        "customer_id": str(CUSTOMER),
        "to_address": None,
        "subject": "Shipped",
        "body": "Your parcel is on its way",
    }
    assert event.ordering_key == body["id"]
    assert event.published_at is None


def test_create_push_requests_one_push_and_no_email(api):
    response = api.post(
        "/notifications",
        {"customer_id": str(CUSTOMER), "channel": "push", "message": "Flash sale!", "title": "Deals"},
        format="json",
    )

    assert response.status_code == 201
    [event] = outbox_events()
    assert event.event_type == "push.requested"
    assert event.payload == {
        "notification_id": response.json()["id"],
        "customer_id": str(CUSTOMER),
        "title": "Deals",
        "message": "Flash sale!",
    }


def test_create_without_title_has_a_blank_title(api):
    response = api.post(
        "/notifications", {"customer_id": str(CUSTOMER), "channel": "push", "message": "Hi"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["title"] == ""
    assert Notification.objects.get(id=response.json()["id"]).title == ""


def test_create_ignores_fields_the_client_may_not_set(api):
    forged_event = str(uuid.uuid4())

    response = api.post(
        "/notifications",
        {
            "customer_id": str(CUSTOMER),
            "channel": "email",
            "message": "Hi",
            "status": "sent",
            "event_type": "order.created",
            "event_id": forged_event,
            "audience": "stock_manager",
        },
        format="json",
    )

    assert response.status_code == 201
    notification = Notification.objects.get(id=response.json()["id"])
    assert notification.status == NotificationStatus.PENDING
    assert notification.event_type == ""
    assert notification.event_id is None
    assert notification.audience == Audience.CUSTOMER


def test_created_notification_is_readable_and_listed_for_its_customer(api):
    created = api.post(
        "/notifications", {"customer_id": str(CUSTOMER), "channel": "email", "message": "Hi"}, format="json"
    ).json()

    assert api.get(f"/notifications/{created['id']}").json() == created
    assert ids(api.get(f"/notifications?customer_id={CUSTOMER}")) == [created["id"]]


@pytest.mark.parametrize(
    "payload",
    [
        {"customer_id": str(CUSTOMER), "channel": "sms", "message": "Hi"},
        {"customer_id": str(CUSTOMER), "channel": "", "message": "Hi"},
        {"customer_id": str(CUSTOMER), "message": "Hi"},
        {"customer_id": str(CUSTOMER), "channel": "email"},
        {"customer_id": str(CUSTOMER), "channel": "email", "message": ""},
        {"customer_id": str(CUSTOMER), "channel": "email", "message": "   "},
        {"customer_id": str(CUSTOMER), "channel": "email", "message": "M" * 5001},
        {"customer_id": str(CUSTOMER), "channel": "email", "message": "Hi", "title": "T" * 201},
        {"customer_id": str(CUSTOMER), "channel": "email", "message": "Hi\x00there"},
        {"customer_id": str(CUSTOMER), "channel": "email", "message": ["Hi"]},
        {"customer_id": "not-a-uuid", "channel": "email", "message": "Hi"},
        {"customer_id": 42, "channel": "email", "message": "Hi"},
        {"customer_id": None, "channel": "email", "message": "Hi"},
        {"channel": "push", "message": "Hi"},
        {},
    ],
)
def test_invalid_create_is_400_and_writes_nothing(api, payload):
    response = api.post("/notifications", payload, format="json")

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert response.json()
    assert not Notification.objects.exists()
    assert outbox_events() == []


def test_longest_allowed_fields_are_accepted(api):
    response = api.post(
        "/notifications",
        {"customer_id": str(CUSTOMER), "channel": "email", "message": "M" * 5000, "title": "T" * 200},
        format="json",
    )

    assert response.status_code == 201
    assert len(outbox_events()) == 1


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null", "{not json"])
def test_malformed_or_non_object_json_is_400_and_writes_nothing(api, body):
    response = api.generic("POST", "/notifications", body, content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json() or "non_field_errors" in response.json()
    assert not Notification.objects.exists()
    assert outbox_events() == []
