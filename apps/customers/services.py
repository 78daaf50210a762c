"""Customer writes. Each change and its customer.changed event commit together."""

from uuid import UUID

from django.db import IntegrityError, transaction

from apps.customers.events import DATABASE, record_customer_changed
from apps.customers.models import Customer
from apps.events.outbox import next_state_version
from shop.errors import AlreadyExists, NotFound

UPDATABLE_FIELDS = ("name", "email")


def customer_create(*, name: str, email: str, customer_id: UUID | None = None) -> Customer:
    fields = {"name": name, "email": email, "version": next_state_version()}
    if customer_id is not None:
        fields["id"] = customer_id
    try:
        with transaction.atomic(using=DATABASE):
            customer = Customer.objects.create(**fields)
            record_customer_changed(customer)
    except IntegrityError:
        raise _duplicate(email, customer_id) from None
    return customer


def customer_update(*, customer_id: UUID, **changes) -> Customer:
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(f"cannot update {sorted(unknown)}")
    try:
        with transaction.atomic(using=DATABASE):
            customer = _locked(customer_id)
            for field, value in changes.items():
                setattr(customer, field, value)
            customer.version = next_state_version(customer.version)
            customer.save()
            record_customer_changed(customer)
    except IntegrityError:
        raise _duplicate(changes.get("email", ""), None) from None
    return customer


def customer_delete(*, customer_id: UUID) -> None:
    with transaction.atomic(using=DATABASE):
        customer = _locked(customer_id)
        customer.version = next_state_version(customer.version)
        record_customer_changed(customer, deleted=True)
        customer.delete()


def _duplicate(email: str, customer_id: UUID | None) -> AlreadyExists:
    if customer_id is not None and Customer.objects.filter(id=customer_id).exists():
        return AlreadyExists(f"A customer with id {customer_id} exists already.", field="id")
    return AlreadyExists(f"A customer with email {email!r} exists already.", field="email")


def _locked(customer_id: UUID) -> Customer:
    try:
        return Customer.objects.select_for_update().get(id=customer_id)
    except Customer.DoesNotExist:
        raise NotFound(f"No customer with id {customer_id}.") from None
