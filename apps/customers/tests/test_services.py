import uuid

import pytest

from apps.customers import demo, selectors, services
from apps.customers.models import Customer
from apps.customers.tests.factories import CustomerFactory
from apps.events.contracts import CustomerChanged
from apps.events.models import OutboxEvent
from shop.errors import AlreadyExists, NotFound

pytestmark = pytest.mark.django_db(databases=["customer"])

DEMO_IDS = {
    uuid.UUID("550e8400-e29b-41d4-a716-446655440000"),
    uuid.UUID("550e8400-e29b-41d4-a716-446655440001"),
    uuid.UUID("550e8400-e29b-41d4-a716-446655440002"),
    uuid.UUID("550e8400-e29b-41d4-a716-446655440003"),
    uuid.UUID("550e8400-e29b-41d4-a716-446655440004"),
}


def customer_events():
    return list(OutboxEvent.objects.using("customer").filter(event_type="customer.changed").order_by("id"))


class Boom(Exception):
    pass


def fail(*args, **kwargs):
    raise Boom


# --- Services ------------------------------------------------------------------------------------


def test_create_records_an_event_that_matches_the_contract():
    customer = services.customer_create(name="Ada", email="ada@example.com")

    [event] = customer_events()
    assert event.topic == CustomerChanged.topic
    assert event.schema_version == CustomerChanged.schema_version
    parsed = CustomerChanged.model_validate(event.payload)
    assert parsed.customer_id == customer.id
    assert parsed.version == customer.version
    assert parsed.deleted is False


def test_create_with_a_chosen_id_uses_it():
    chosen = uuid.uuid4()

    customer = services.customer_create(name="Ada", email="ada@example.com", customer_id=chosen)

    assert customer.id == chosen
    assert Customer.objects.get(id=chosen).email == "ada@example.com"


def test_create_with_an_existing_id_reports_the_id_conflict():
    existing = CustomerFactory()

    with pytest.raises(AlreadyExists) as raised:
        services.customer_create(name="Other", email="other@example.com", customer_id=existing.id)

    assert raised.value.field == "id"
    assert Customer.objects.count() == 1
    assert customer_events() == []


def test_create_with_a_taken_email_in_another_case_reports_the_email_conflict():
    CustomerFactory(email="ada@example.com")

    with pytest.raises(AlreadyExists) as raised:
        services.customer_create(name="Other", email="ADA@EXAMPLE.COM")

    assert raised.value.field == "email"
    assert customer_events() == []


def test_create_is_atomic_with_its_event(monkeypatch):
    # given the outbox write fails
    monkeypatch.setattr(services, "record_customer_changed", fail)

    # when
    with pytest.raises(Boom):
        services.customer_create(name="Ada", email="ada@example.com")

    # then the customer did not commit without its event
    assert not Customer.objects.exists()


def test_update_is_atomic_with_its_event(monkeypatch):
    customer = CustomerFactory(name="Ada", version=1)
    monkeypatch.setattr(services, "record_customer_changed", fail)

    with pytest.raises(Boom):
        services.customer_update(customer_id=customer.id, name="Grace")

    customer.refresh_from_db()
    assert (customer.name, customer.version) == ("Ada", 1)


def test_delete_is_atomic_with_its_tombstone(monkeypatch):
    customer = CustomerFactory()
    monkeypatch.setattr(services, "record_customer_changed", fail)

    with pytest.raises(Boom):
        services.customer_delete(customer_id=customer.id)

    assert Customer.objects.filter(id=customer.id).exists()


def test_update_refuses_fields_that_are_not_writable():
    customer = CustomerFactory()

    with pytest.raises(TypeError):
        services.customer_update(customer_id=customer.id, version=1)

    assert customer_events() == []


def test_update_bumps_the_version_past_the_previous_one_even_when_it_is_in_the_future():
    # given a version ahead of the clock (e.g. written by a host whose clock ran fast)
    future = 10**17
    customer = CustomerFactory(version=future)

    updated = services.customer_update(customer_id=customer.id, name="Grace")

    assert updated.version == future + 1
    assert customer_events()[-1].payload["version"] == future + 1


def test_update_and_delete_of_an_unknown_customer_raise_not_found():
    with pytest.raises(NotFound):
        services.customer_update(customer_id=uuid.uuid4(), name="X")
    with pytest.raises(NotFound):
        services.customer_delete(customer_id=uuid.uuid4())
    assert customer_events() == []


# --- Selectors -----------------------------------------------------------------------------------


def test_customer_list_filters_case_insensitively_and_exactly():
    ada = CustomerFactory(email="Ada@Example.com")
    CustomerFactory(email="ada@example.com.au")

    assert list(selectors.customer_list(email="ada@example.COM")) == [ada]
    assert selectors.customer_list().count() == 2


def test_customer_get_raises_not_found_for_an_unknown_id():
    with pytest.raises(NotFound):
        selectors.customer_get(customer_id=uuid.uuid4())


# --- Demo data -----------------------------------------------------------------------------------


def test_seed_creates_the_five_fixed_customers_with_their_events():
    created = demo.seed()

    assert len(created) == 5
    customers = {c.id: c for c in Customer.objects.all()}
    assert set(customers) == DEMO_IDS
    assert customers[uuid.UUID("550e8400-e29b-41d4-a716-446655440000")].name == "John Smith"
    assert customers[uuid.UUID("550e8400-e29b-41d4-a716-446655440001")].email == "jane.doe@example.com"
    assert {uuid.UUID(e.payload["customer_id"]) for e in customer_events()} == DEMO_IDS


def test_seed_a_second_time_creates_nothing():
    # given
    demo.seed()
    events_before = len(customer_events())

    # when
    created = demo.seed()

    # then
    assert created == []
    assert Customer.objects.count() == 5
    assert len(customer_events()) == events_before


def test_seed_fills_in_only_the_missing_demo_customers():
    john = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
    CustomerFactory(id=john, name="John Smith", email="john.smith@example.com")

    created = demo.seed()

    assert len(created) == 4
    assert set(Customer.objects.values_list("id", flat=True)) == DEMO_IDS
    assert len(customer_events()) == 4


def test_seed_leaves_a_demo_email_alone_when_another_customer_holds_it():
    # given someone else registered John Smith's address (e.g. after John was deleted)
    holder = CustomerFactory(email="JOHN.SMITH@example.com")

    # when
    created = demo.seed()

    # then the seed does not fail, keeps the holder and creates the other four
    assert len(created) == 4
    assert Customer.objects.filter(email__iexact="john.smith@example.com").get() == holder
    assert Customer.objects.count() == 5
