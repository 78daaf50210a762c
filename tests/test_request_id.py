"""X-Request-ID: taken when sane, made when absent or not, on every response and every line of its request."""

import logging
import re
import uuid

import pytest
from django.db import transaction
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars

from apps.events.contracts import ProductChanged
from apps.events.outbox import record_event
from shop.observability.logging import bound
from shop.observability.request_id import request_id_of
from testsupport.logs import json_lines

pytestmark = pytest.mark.django_db(databases=["default", "product", "cart"])

MADE = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(autouse=True)
def _no_context():
    clear_contextvars()


@pytest.mark.parametrize(
    "given",
    [
        "3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e",  # a gateway's UUID
        "0123456789abcdef0123456789abcdef",
        "Root=1-67891233-abcdef012345678912345678",  # AWS load balancers' style
        "a" * 128,
    ],
)
def test_a_sane_request_id_is_kept_and_returned(service_client, given):
    response = service_client("product").get("/products", HTTP_X_REQUEST_ID=given)

    assert response.status_code == 200
    assert response["X-Request-ID"] == given


@pytest.mark.parametrize(
    "given",
    ["", "a" * 129, "has space", 'quote"d', "new\\nline", "<script>", "ünïcode", "semi;colon"],
)
def test_an_insane_request_id_is_replaced_by_a_new_one(service_client, given):
    response = service_client("product").get("/products", HTTP_X_REQUEST_ID=given)

    assert response.status_code == 200
    assert MADE.fullmatch(response["X-Request-ID"])


def test_a_control_character_never_passes():
    assert MADE.fullmatch(request_id_of("abc\r\nX-Injected: 1"))


def test_without_one_each_request_gets_its_own(service_client):
    client = service_client("product")

    first, second = client.get("/products")["X-Request-ID"], client.get("/products")["X-Request-ID"]

    assert MADE.fullmatch(first)
    assert MADE.fullmatch(second)
    assert first != second


def test_a_replayed_catalog_page_carries_its_own_request_id_not_the_first_ones(service_client):
    client = service_client("product")
    client.get("/products", HTTP_X_REQUEST_ID="first-request")

    replayed = client.get("/products", HTTP_X_REQUEST_ID="second-request")

    assert replayed["X-Request-ID"] == "second-request"


@pytest.mark.parametrize(
    ("service", "method", "path", "status"),
    [
        ("cart", "get", "/cart", 400),  # no X-Customer-ID: the API's JSON error
        ("cart", "post", "/cart/items", 400),  # an invalid body
        ("product", "get", "/products/NO-SUCH-SKU", 404),  # the API's not found
        ("product", "get", "/no/such/route", 404),  # Django's own
        ("product", "delete", "/products", 405),
    ],
)
def test_errors_carry_it_too(service_client, service, method, path, status):
    headers = {"HTTP_X_CUSTOMER_ID": str(uuid.uuid4())} if path == "/cart/items" else {}
    client = service_client(service)

    response = getattr(client, method)(
        path, data={"quantity": "x"}, format="json", HTTP_X_REQUEST_ID="err-1", **headers
    )

    assert response.status_code == status
    assert response["X-Request-ID"] == "err-1"


def test_an_unauthenticated_call_carries_it(service_client, settings):
    settings.AUTH_MODE, settings.AUTH_JWT_SECRET = "jwt", "s" * 32

    response = service_client("cart").get("/cart", HTTP_X_REQUEST_ID="err-2")

    assert response.status_code == 401
    assert response["X-Request-ID"] == "err-2"


def test_the_lines_of_a_request_carry_its_id_and_none_leaks_into_what_follows(service_client):
    with json_lines("django.request") as lines:
        service_client("product").get("/no/such/route", HTTP_X_REQUEST_ID="req-42")
        logging.getLogger("django.request").warning("after the request")

    during, after = lines
    assert during["message"] == "Not Found: /no/such/route"
    assert during["request_id"] == "req-42"
    assert "request_id" not in after
    assert get_contextvars() == {}


def test_a_request_that_records_an_event_carries_its_correlation_id_on_later_lines():
    correlation_id = uuid.uuid4()
    bind_contextvars(request_id="req-7")  # as the middleware does

    with json_lines("apps.events.outbox", "shop") as lines, transaction.atomic(using="product"):
        event_id = record_event(product_changed(), using="product", correlation_id=correlation_id)
        logging.getLogger("shop.anything").info("later in the request")

    recorded, later = lines  # at DEBUG, where the event was born: the request that recorded it
    assert (recorded["event_id"], recorded["request_id"]) == (str(event_id), "req-7")
    assert later["request_id"] == "req-7"
    assert later["correlation_id"] == recorded["correlation_id"] == str(correlation_id)


def test_the_correlation_id_of_the_event_being_handled_is_not_replaced_by_a_recorded_ones():
    with bound(event_id="e", correlation_id="the-events"), transaction.atomic(using="product"):
        record_event(product_changed(), using="product", correlation_id=uuid.uuid4())
        assert get_contextvars()["correlation_id"] == "the-events"


def test_outside_a_request_or_an_event_recording_binds_nothing():
    with transaction.atomic(using="product"):
        record_event(product_changed(), using="product", correlation_id=uuid.uuid4())

    assert get_contextvars() == {}


def product_changed() -> ProductChanged:
    return ProductChanged(sku="LOG-001", name="n", description="d", price="1.00", version=1)
