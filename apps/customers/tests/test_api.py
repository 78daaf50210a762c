import uuid
from datetime import UTC, datetime, timedelta

import pytest

from apps.customers.models import Customer
from apps.customers.tests.factories import CustomerFactory
from apps.events.models import OutboxEvent

pytestmark = pytest.mark.django_db(databases=["customer"])

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def api(service_client):
    return service_client("customer")


def customer_events():
    return list(OutboxEvent.objects.using("customer").filter(event_type="customer.changed").order_by("id"))


def assert_iso_utc(value: str) -> None:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)


# --- Health and routing --------------------------------------------------------------------------


def test_health_names_the_customer_service(api):
    response = api.get("/")

    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["service"] == "customer-service"


def test_unknown_path_is_a_json_404(api):
    response = api.get("/nothing-here")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_the_openapi_schema_describes_the_customer_endpoints(api):
    response = api.get("/schema?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert any(p.startswith("/customers") for p in paths)
    assert api.get("/docs").status_code == 200


def test_routes_of_other_services_are_not_served(api):
    assert api.get("/products").status_code == 404
    assert api.get("/inventory").status_code == 404


# --- POST /customers -----------------------------------------------------------------------------


def test_create_answers_201_with_the_customer_and_records_one_event(api):
    response = api.post("/customers", {"name": "Ada Lovelace", "email": "ada@example.com"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Ada Lovelace"
    assert body["email"] == "ada@example.com"
    assert_iso_utc(body["created_at"])
    customer = Customer.objects.get(id=uuid.UUID(body["id"]))
    assert customer.email == "ada@example.com"
    [event] = customer_events()
    assert event.topic == "customer.changed"
    assert event.ordering_key == body["id"]
    assert event.published_at is None
    assert event.payload == {
        "customer_id": body["id"],
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "version": customer.version,
        "deleted": False,
    }
    assert customer.version > 0


def test_create_trims_surrounding_whitespace(api):
    response = api.post("/customers", {"name": "  Ada  ", "email": " ada@example.com "}, format="json")

    assert response.status_code == 201
    assert response.json()["name"] == "Ada"
    assert response.json()["email"] == "ada@example.com"


def test_create_ignores_a_client_supplied_id(api):
    chosen = str(uuid.uuid4())

    response = api.post("/customers", {"id": chosen, "name": "Ada", "email": "ada@example.com"}, format="json")

    assert response.status_code == 201
    assert response.json()["id"] != chosen


@pytest.mark.parametrize(
    "email",
    ["taken@example.com", "TAKEN@example.com", "Taken@Example.COM", "  taken@example.com  "],
)
def test_duplicate_email_in_any_case_is_409_and_writes_nothing(api, email):
    # given
    existing = CustomerFactory(email="taken@example.com")

    # when
    response = api.post("/customers", {"name": "Someone Else", "email": email}, format="json")

    # then
    assert response.status_code == 409
    assert "email" in response.json()
    assert list(Customer.objects.values_list("id", flat=True)) == [existing.id]
    assert customer_events() == []


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "Ada", "email": "not-an-email"},
        {"name": "Ada", "email": "ada@"},
        {"name": "Ada", "email": "@example.com"},
        {"name": "Ada", "email": "ada example@example.com"},
        {"name": "Ada", "email": ""},
        {"name": "Ada", "email": "a" * 250 + "@example.com"},
        {"name": "Ada", "email": None},
        {"name": "Ada", "email": ["ada@example.com"]},
        {"name": "Ada", "email": 42},
        {"name": "Ada"},
        {"email": "ada@example.com"},
        {"name": "", "email": "ada@example.com"},
        {"name": "   ", "email": "ada@example.com"},
        {"name": "N" * 201, "email": "ada@example.com"},
        {"name": "Ada\x00Lovelace", "email": "ada@example.com"},
        {"name": None, "email": "ada@example.com"},
        {"name": True, "email": "ada@example.com"},
        {"name": ["Ada"], "email": "ada@example.com"},
        {"name": {"first": "Ada"}, "email": "ada@example.com"},
        {},
    ],
)
def test_invalid_customer_is_400_and_writes_nothing(api, payload):
    response = api.post("/customers", payload, format="json")

    assert response.status_code == 400
    body = response.json()
    assert isinstance(body, dict)
    assert body
    assert not Customer.objects.exists()
    assert customer_events() == []


def test_a_name_of_exactly_200_characters_is_accepted(api):
    response = api.post("/customers", {"name": "N" * 200, "email": "ada@example.com"}, format="json")

    assert response.status_code == 201
    assert len(response.json()["name"]) == 200


def test_invalid_input_names_the_offending_field(api):
    response = api.post("/customers", {"name": "Ada", "email": "nope"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"email"}


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null", "true", "{not json", ""])
def test_malformed_or_non_object_json_is_400_and_writes_nothing(api, body):
    response = api.generic("POST", "/customers", body, content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    assert isinstance(body, dict)
    assert body
    assert not Customer.objects.exists()
    assert customer_events() == []


def test_a_body_that_is_not_json_is_refused_with_a_json_error(api):
    response = api.generic(
        "POST", "/customers", "name=Ada&email=ada@example.com", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert "detail" in response.json()
    assert not Customer.objects.exists()


# --- GET /customers ------------------------------------------------------------------------------


def test_list_is_paginated_with_a_count_and_ordered_oldest_first(api):
    # given three customers created a minute apart, stored out of order
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for minutes, email in ((2, "c@example.com"), (0, "a@example.com"), (1, "b@example.com")):
        customer = CustomerFactory(email=email)
        Customer.objects.filter(id=customer.id).update(created_at=start + timedelta(minutes=minutes))

    # when
    first = api.get("/customers?limit=2")
    second = api.get("/customers?limit=2&offset=2")

    # then
    assert first.status_code == 200
    assert first.json()["count"] == 3
    assert [c["email"] for c in first.json()["results"]] == ["a@example.com", "b@example.com"]
    assert first.json()["next"] is not None
    assert first.json()["previous"] is None
    assert second.json()["count"] == 3
    assert [c["email"] for c in second.json()["results"]] == ["c@example.com"]
    assert second.json()["next"] is None


def test_list_items_have_the_contract_fields(api):
    customer = CustomerFactory(name="Ada", email="ada@example.com")

    [item] = api.get("/customers").json()["results"]

    assert {"id", "name", "email", "created_at"} <= item.keys()
    assert item["id"] == str(customer.id)
    assert_iso_utc(item["created_at"])


def test_list_default_page_is_bounded(api):
    CustomerFactory.create_batch(55)

    body = api.get("/customers").json()

    assert body["count"] == 55
    assert len(body["results"]) == 50
    assert body["next"] is not None


def test_list_limit_is_capped(api):
    CustomerFactory.create_batch(3)

    response = api.get("/customers?limit=100000")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


@pytest.mark.parametrize("query", ["limit=abc", "limit=-1", "offset=abc", "offset=-5"])
def test_list_ignores_nonsense_paging_parameters(api, query):
    CustomerFactory.create_batch(2)

    response = api.get(f"/customers?{query}")

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_list_of_an_empty_table(api):
    response = api.get("/customers")

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("query", ["ada@example.com", "ADA@Example.com", "Ada%40EXAMPLE.COM"])
def test_list_filters_by_email_in_any_case(api, query):
    ada = CustomerFactory(email="Ada@example.com")
    CustomerFactory(email="grace@example.com")
    CustomerFactory(email="ada@example.org")

    body = api.get(f"/customers?email={query}").json()

    assert body["count"] == 1
    assert [c["id"] for c in body["results"]] == [str(ada.id)]


def test_list_email_filter_is_exact_not_a_substring_match(api):
    CustomerFactory(email="ada@example.com")

    body = api.get("/customers?email=ada").json()

    assert body["count"] == 0
    assert body["results"] == []


def test_an_empty_email_filter_lists_everyone(api):
    CustomerFactory.create_batch(2)

    assert api.get("/customers?email=").json()["count"] == 2


def test_an_email_filter_with_a_nul_character_is_400_not_500(api):
    CustomerFactory(email="ada@example.com")

    response = api.get("/customers?email=ada%00@example.com")

    assert response.status_code == 400
    assert "email" in response.json()


# --- GET /customers/{id} -------------------------------------------------------------------------


def test_retrieve_answers_the_customer(api):
    customer = CustomerFactory(name="Ada", email="ada@example.com")

    response = api.get(f"/customers/{customer.id}")

    assert response.status_code == 200
    assert response.json()["id"] == str(customer.id)
    assert response.json()["name"] == "Ada"
    assert response.json()["email"] == "ada@example.com"


def test_retrieve_accepts_an_upper_case_id_and_a_trailing_slash(api):
    customer = CustomerFactory()

    assert api.get(f"/customers/{str(customer.id).upper()}").json()["id"] == str(customer.id)
    assert api.get(f"/customers/{customer.id}/").status_code == 200
    assert api.get("/customers/").status_code == 200


def test_retrieve_an_unknown_id_is_a_json_404(api):
    CustomerFactory()

    response = api.get(f"/customers/{UNKNOWN_ID}")

    assert response.status_code == 404
    assert "detail" in response.json()


MALFORMED_IDS = [
    "not-a-uuid",
    "123",
    "550e8400e29b41d4a716446655440000",
    "550e8400-e29b-41d4-a716-44665544000",
    "550e8400-e29b-41d4-a716-4466554400000",
    "550e8400-e29b-41d4-a716-44665544000g",
    "%00",
]


@pytest.mark.parametrize("customer_id", MALFORMED_IDS)
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_a_malformed_id_in_the_path_is_a_json_404(api, method, customer_id):
    CustomerFactory()

    response = getattr(api, method)(f"/customers/{customer_id}", {"name": "X"}, format="json")

    assert response.status_code == 404
    assert "detail" in response.json()
    assert customer_events() == []


# --- PUT /customers/{id} -------------------------------------------------------------------------


def test_update_of_the_name_only_keeps_the_email_and_records_one_event(api):
    # given
    customer = CustomerFactory(name="Ada", email="ada@example.com", version=1)

    # when
    response = api.put(f"/customers/{customer.id}", {"name": "Ada King"}, format="json")

    # then
    assert response.status_code == 200
    assert response.json()["name"] == "Ada King"
    assert response.json()["email"] == "ada@example.com"
    customer.refresh_from_db()
    assert customer.name == "Ada King"
    assert customer.email == "ada@example.com"
    assert customer.version > 1
    [event] = customer_events()
    assert event.ordering_key == str(customer.id)
    assert event.payload == {
        "customer_id": str(customer.id),
        "name": "Ada King",
        "email": "ada@example.com",
        "version": customer.version,
        "deleted": False,
    }


def test_update_of_the_email_only_keeps_the_name(api):
    customer = CustomerFactory(name="Ada", email="ada@example.com")

    response = api.put(f"/customers/{customer.id}", {"email": "countess@example.com"}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "Ada"
    assert response.json()["email"] == "countess@example.com"
    [event] = customer_events()
    assert event.payload["email"] == "countess@example.com"
    assert event.payload["name"] == "Ada"


def test_update_of_both_fields(api):
    customer = CustomerFactory(name="Ada", email="ada@example.com")

    response = api.put(f"/customers/{customer.id}", {"name": "Grace", "email": "grace@example.com"}, format="json")

    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("Grace", "grace@example.com")


def test_update_cannot_change_the_id_or_created_at(api):
    customer = CustomerFactory(name="Ada")
    created_at = customer.created_at

    response = api.put(
        f"/customers/{customer.id}",
        {"id": UNKNOWN_ID, "created_at": "2000-01-01T00:00:00Z", "name": "Grace"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["id"] == str(customer.id)
    customer.refresh_from_db()
    assert customer.created_at == created_at
    assert customer.name == "Grace"
    assert not Customer.objects.filter(id=UNKNOWN_ID).exists()


def test_update_may_change_only_the_case_of_the_own_email(api):
    customer = CustomerFactory(email="ada@example.com")

    response = api.put(f"/customers/{customer.id}", {"email": "ADA@example.com"}, format="json")

    assert response.status_code == 200
    assert response.json()["email"] == "ADA@example.com"


@pytest.mark.parametrize("email", ["grace@example.com", "GRACE@EXAMPLE.COM"])
def test_update_to_another_customers_email_is_409_and_changes_nothing(api, email):
    # given
    ada = CustomerFactory(email="ada@example.com", version=1)
    CustomerFactory(email="grace@example.com")

    # when
    response = api.put(f"/customers/{ada.id}", {"email": email}, format="json")

    # then
    assert response.status_code == 409
    assert "email" in response.json()
    ada.refresh_from_db()
    assert ada.email == "ada@example.com"
    assert ada.version == 1
    assert customer_events() == []


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-email"},
        {"email": ""},
        {"email": None},
        {"name": ""},
        {"name": "N" * 201},
        {"name": None},
        {"name": ["Ada"]},
        {"name": False},
        {"name": "Ada", "email": "broken"},
    ],
)
def test_invalid_update_is_400_and_changes_nothing(api, payload):
    customer = CustomerFactory(name="Ada", email="ada@example.com", version=1)

    response = api.put(f"/customers/{customer.id}", payload, format="json")

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.version) == ("Ada", "ada@example.com", 1)
    assert customer_events() == []


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "null", "{not json"])
def test_update_with_malformed_or_non_object_json_is_400(api, body):
    customer = CustomerFactory(name="Ada", version=1)

    response = api.generic("PUT", f"/customers/{customer.id}", body, content_type="application/json")

    assert response.status_code == 400
    customer.refresh_from_db()
    assert customer.name == "Ada"
    assert customer_events() == []


def test_update_of_an_unknown_customer_is_404_and_writes_nothing(api):
    response = api.put(f"/customers/{UNKNOWN_ID}", {"name": "Nobody"}, format="json")

    assert response.status_code == 404
    assert "detail" in response.json()
    assert not Customer.objects.exists()
    assert customer_events() == []


def test_patch_is_not_offered_and_answers_json(api):
    customer = CustomerFactory()

    response = api.patch(f"/customers/{customer.id}", {"name": "X"}, format="json")

    assert response.status_code == 405
    assert "detail" in response.json()


# --- DELETE /customers/{id} ----------------------------------------------------------------------


def test_delete_removes_the_customer_and_records_a_tombstone(api):
    # given
    customer = CustomerFactory(name="Ada", email="ada@example.com", version=1)

    # when
    response = api.delete(f"/customers/{customer.id}")

    # then
    assert response.status_code == 204
    assert not Customer.objects.filter(id=customer.id).exists()
    [event] = customer_events()
    assert event.ordering_key == str(customer.id)
    assert event.payload["customer_id"] == str(customer.id)
    assert event.payload["name"] == "Ada"
    assert event.payload["email"] == "ada@example.com"
    assert event.payload["deleted"] is True
    assert event.payload["version"] > 1


def test_a_deleted_customer_is_gone(api):
    customer = CustomerFactory()
    api.delete(f"/customers/{customer.id}")

    assert api.get(f"/customers/{customer.id}").status_code == 404
    assert api.put(f"/customers/{customer.id}", {"name": "X"}, format="json").status_code == 404
    assert api.delete(f"/customers/{customer.id}").status_code == 404
    assert len(customer_events()) == 1


def test_delete_of_an_unknown_customer_is_404_and_writes_nothing(api):
    other = CustomerFactory()

    response = api.delete(f"/customers/{UNKNOWN_ID}")

    assert response.status_code == 404
    assert "detail" in response.json()
    assert Customer.objects.filter(id=other.id).exists()
    assert customer_events() == []


def test_delete_frees_the_email_for_a_new_customer(api):
    customer = CustomerFactory(email="ada@example.com")
    api.delete(f"/customers/{customer.id}")

    response = api.post("/customers", {"name": "Ada Again", "email": "ADA@example.com"}, format="json")

    assert response.status_code == 201
    assert response.json()["id"] != str(customer.id)


# --- The event stream of one customer ------------------------------------------------------------


def test_every_change_records_exactly_one_event_with_a_growing_version(api):
    # given / when: create, two updates, delete
    customer_id = api.post("/customers", {"name": "Ada", "email": "ada@example.com"}, format="json").json()["id"]
    api.put(f"/customers/{customer_id}", {"name": "Ada King"}, format="json")
    api.put(f"/customers/{customer_id}", {"email": "countess@example.com"}, format="json")
    api.delete(f"/customers/{customer_id}")

    # then
    events = customer_events()
    assert len(events) == 4
    assert {e.payload["customer_id"] for e in events} == {customer_id}
    assert {e.ordering_key for e in events} == {customer_id}
    assert len({e.event_id for e in events}) == 4
    versions = [e.payload["version"] for e in events]
    assert versions == sorted(versions)
    assert len(set(versions)) == 4
    assert [(e.payload["name"], e.payload["email"], e.payload["deleted"]) for e in events] == [
        ("Ada", "ada@example.com", False),
        ("Ada King", "ada@example.com", False),
        ("Ada King", "countess@example.com", False),
        ("Ada King", "countess@example.com", True),
    ]


def test_failed_requests_between_changes_record_nothing(api):
    CustomerFactory(email="grace@example.com")
    customer_id = api.post("/customers", {"name": "Ada", "email": "ada@example.com"}, format="json").json()["id"]

    api.post("/customers", {"name": "Dup", "email": "ADA@example.com"}, format="json")
    api.put(f"/customers/{customer_id}", {"email": "grace@example.com"}, format="json")
    api.put(f"/customers/{customer_id}", {"email": "broken"}, format="json")
    api.delete(f"/customers/{UNKNOWN_ID}")

    assert len(customer_events()) == 1
    assert Customer.objects.count() == 2
