"""POST /notifications with an Idempotency-Key: a retried send is answered, never sent twice."""

from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from apps.events.models import OutboxEvent
from apps.idempotency.models import IdempotencyKey
from apps.notifications.events import DATABASE
from apps.notifications.models import Notification
from shop.identity import issue_token
from testsupport.concurrency import ConcurrentCalls, assert_answered_once_and_replayed

pytestmark = pytest.mark.django_db(databases=["notification"])

CUSTOMER = "550e8400-e29b-41d4-a716-446655440000"
STAFF = "550e8400-e29b-41d4-a716-446655440004"
PARCEL = {"customer_id": CUSTOMER, "channel": "email", "message": "Your parcel is on its way", "title": "Shipped"}


class Requests(ConcurrentCalls):
    database = DATABASE


@pytest.fixture
def api(service_client):
    return service_client("notification", HTTP_X_CUSTOMER_ID=STAFF)


def send(client, key, payload=PARCEL):
    return client.post("/notifications", payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


def notifications():
    return list(Notification.objects.using(DATABASE).order_by("created_at"))


def events():
    return list(OutboxEvent.objects.using(DATABASE).order_by("id"))


def keys():
    return list(IdempotencyKey.objects.using(DATABASE).order_by("id"))


def test_a_retry_gets_the_same_notification_and_sends_nothing_again(api):
    # given
    first = send(api, "send-1")
    assert first.status_code == 201

    # when
    retry = send(api, "send-1")

    # then
    assert retry.status_code == 201
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    [notification] = notifications()
    assert str(notification.id) == first.json()["id"]
    [event] = events()
    assert event.event_type == "email.requested"
    # even once the notification has changed since: the replay is the first answer, not a read
    Notification.objects.using(DATABASE).update(status="sent")
    assert send(api, "send-1").json()["status"] == "pending"


def test_the_same_key_with_another_message_is_422_and_sends_nothing(api):
    # given
    send(api, "k")

    # when
    response = send(api, "k", {**PARCEL, "message": "Something else"})

    # then
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()
    assert len(notifications()) == 1
    assert len(events()) == 1
    assert [k.response_status for k in keys()] == [201]


def test_staff_members_with_equal_keys_do_not_collide(service_client, settings):
    # given AUTH_MODE=jwt and two staff members
    settings.AUTH_MODE = "jwt"
    settings.AUTH_JWT_SECRET = "test-secret-of-at-least-thirty-two-bytes"

    def as_staff(subject):
        return service_client("notification", HTTP_AUTHORIZATION=f"Bearer {issue_token(subject=subject, staff=True)}")

    # when both send the same message with the same key
    alice = send(as_staff("alice"), "same")
    bob = send(as_staff("bob"), "same")

    # then two notifications
    assert (alice.status_code, bob.status_code) == (201, 201)
    assert alice.json()["id"] != bob.json()["id"]
    assert len(events()) == 2
    assert sorted(k.caller for k in keys()) == ["staff:alice", "staff:bob"]


def test_a_caller_too_long_for_its_column_is_kept_by_its_digest(service_client):
    # given header mode, where X-Customer-ID is the caller as sent (POST /notifications ignores it)
    client = service_client("notification", HTTP_X_CUSTOMER_ID="x" * 300)

    # when
    first = send(client, "k")
    retry = send(client, "k")

    # then
    assert first.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    [key] = keys()
    assert key.caller.startswith("sha256:")
    assert len(key.caller) == len("sha256:") + 64


def test_an_error_is_not_kept_so_a_retry_after_it_runs_again(api):
    # given a request refused for its input
    payload = {**PARCEL, "channel": "carrier-pigeon"}
    assert send(api, "k", payload).status_code == 400

    # when the same key comes with a corrected request
    response = send(api, "k")

    # then it is a first request, not a mismatch
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert len(notifications()) == 1


def test_an_expired_key_counts_as_absent(api, settings):
    # given
    first = send(api, "k")
    IdempotencyKey.objects.using(DATABASE).update(
        created_at=timezone.now() - settings.IDEMPOTENCY_TTL - timedelta(seconds=1)
    )

    # when
    again = send(api, "k")

    # then a second notification
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert len(notifications()) == 2
    assert len(events()) == 2


@pytest.mark.django_db(databases=["notification"], transaction=True)
def test_two_concurrent_sends_with_one_key_send_once_and_both_get_its_answer(api):
    # given two requests with one key: the first held up writing its event (the test locks the
    # outbox), the second by the key the first has claimed
    requests = Requests(lambda: send(api, "k"), lambda: send(api, "k"))
    with transaction.atomic(using=DATABASE):
        with connections[DATABASE].cursor() as cursor:
            cursor.execute("LOCK TABLE outbox IN EXCLUSIVE MODE")
        requests.start()
        requests.wait_until_all_blocked()

    # when both proceed
    responses = requests.join()

    # then one notification, one email requested, and both callers have its answer
    assert_answered_once_and_replayed(responses, status=201)
    [notification] = notifications()
    assert str(notification.id) == responses[0].json()["id"]
    assert [e.event_type for e in events()] == ["email.requested"]
