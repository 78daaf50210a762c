"""What the customer service publishes: the whole customer after every change."""

from apps.customers.models import Customer
from apps.events.contracts import CustomerChanged
from apps.events.outbox import record_event
from shop.registry import get_service

DATABASE = get_service("customer").database
# What this service publishes (its consumers: HANDLERS in handlers.py); shop/topology.py joins the two.
PUBLISHES = (CustomerChanged,)


def record_customer_changed(customer: Customer, *, deleted: bool = False) -> None:
    event = CustomerChanged(
        customer_id=customer.id,
        name=customer.name,
        email=customer.email,
        version=customer.version,
        deleted=deleted,
    )
    record_event(event, using=DATABASE, ordering_key=str(customer.id))
