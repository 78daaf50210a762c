from uuid import UUID

from django.db.models import QuerySet

from apps.customers.models import Customer
from shop.errors import NotFound


def customer_list(*, email: str | None = None) -> QuerySet[Customer]:
    customers = Customer.objects.order_by("created_at", "id")
    if email:
        customers = customers.filter(email__iexact=email)
    return customers


def customer_get(*, customer_id: UUID) -> Customer:
    try:
        return Customer.objects.get(id=customer_id)
    except Customer.DoesNotExist:
        raise NotFound(f"No customer with id {customer_id}.") from None
