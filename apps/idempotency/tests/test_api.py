"""The ``idempotent`` decorator on a view of its own: one effect per key, whatever the view."""

import pytest
from django.http.request import RawPostDataException
from rest_framework import status
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from apps.events.models import OutboxEvent
from apps.idempotency import api as idempotency_api
from apps.idempotency.api import HEADER, MAX_KEY_LENGTH, idempotent
from apps.idempotency.models import IdempotencyKey
from apps.idempotency.services import request_fingerprint
from shop.access import Access

DATABASE = "cart"  # any service database: every one has the table

pytestmark = pytest.mark.django_db(databases=[DATABASE])


def effect(note: str) -> OutboxEvent:
    """Something the view writes, to count its effects by."""
    return OutboxEvent.objects.using(DATABASE).create(topic="test", event_type="test", schema_version=1, payload=note)


class ThingsView(APIView):
    """Writes an effect and answers: 201, or the status the body asks for (without raising)."""

    access = {"post": Access.CUSTOMER}

    @idempotent(database=DATABASE)
    def post(self, request):
        row = effect(request.data.get("note", ""))
        answer = request.data.get("answer", status.HTTP_201_CREATED)
        return Response({"effect": row.pk} if answer != status.HTTP_204_NO_CONTENT else None, status=answer)


def post(body=None, **headers):
    request = APIRequestFactory().post("/things", body or {}, format="json", HTTP_X_CUSTOMER_ID="someone", **headers)
    return ThingsView.as_view()(request)


def effects():
    return OutboxEvent.objects.using(DATABASE).count()


@pytest.mark.parametrize("key", ["", "k" * (MAX_KEY_LENGTH + 1), "nul\x00inside"])
def test_a_key_that_is_empty_too_long_or_unstorable_is_400_naming_the_header(key):
    response = post(HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert list(response.data) == [HEADER]
    assert effects() == 0
    assert not IdempotencyKey.objects.using(DATABASE).exists()


@pytest.mark.parametrize("key", ["k", "k" * MAX_KEY_LENGTH, "any string: ünïcode, spaces / and ; all"])
def test_any_key_of_1_to_255_characters_is_honoured(key):
    first = post(HTTP_IDEMPOTENCY_KEY=key)
    retry = post(HTTP_IDEMPOTENCY_KEY=key)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.data == first.data
    assert effects() == 1


def test_without_the_header_each_request_stands_alone():
    post()
    post()

    assert effects() == 2
    assert not IdempotencyKey.objects.using(DATABASE).exists()


def test_a_view_that_answers_an_error_without_raising_has_its_writes_undone_and_nothing_kept():
    response = post({"answer": 409}, HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 409
    assert effects() == 0
    assert not IdempotencyKey.objects.using(DATABASE).exists()


def test_an_answer_without_a_body_is_replayed_without_one():
    first = post({"answer": 204}, HTTP_IDEMPOTENCY_KEY="k")
    retry = post({"answer": 204}, HTTP_IDEMPOTENCY_KEY="k")

    assert (first.status_code, retry.status_code) == (204, 204)
    assert retry.data is None
    assert retry[idempotency_api.REPLAYED_HEADER] == "true"
    assert effects() == 1


def test_the_fingerprint_is_the_method_path_and_body():
    base = request_fingerprint(method="POST", path="/orders", body=b"{}")

    assert request_fingerprint(method="post", path="/orders", body=b"{}") == base
    assert request_fingerprint(method="PUT", path="/orders", body=b"{}") != base
    assert request_fingerprint(method="POST", path="/orders/", body=b"{}") != base
    assert request_fingerprint(method="POST", path="/orders", body=b'{"a":1}') != base
    # the parts cannot run into each other
    assert request_fingerprint(method="POST", path="/a", body=b"b") != request_fingerprint(
        method="POST", path="/ab", body=b""
    )


class StreamedRequest:
    """A request whose body a streaming parser has read before the view: only the parsed data is left."""

    method = "POST"
    path = "/things"

    def __init__(self, data):
        self.data = data

    @property
    def body(self):
        raise RawPostDataException("read already")


def test_a_body_read_as_a_stream_before_the_view_is_fingerprinted_by_its_parsed_data():
    one = idempotency_api._fingerprint_of(StreamedRequest({"b": 1, "a": [1, 2]}))
    same = idempotency_api._fingerprint_of(StreamedRequest({"a": [1, 2], "b": 1}))
    other = idempotency_api._fingerprint_of(StreamedRequest({"a": [2, 1], "b": 1}))

    assert one == same
    assert one != other
