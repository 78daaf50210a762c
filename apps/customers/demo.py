"""The five customers every fresh platform starts with, with their fixed ids (idempotent)."""

from uuid import UUID

from apps.customers.models import Customer
from apps.customers.services import customer_create

DEMO_CUSTOMERS = (
    (UUID("550e8400-e29b-41d4-a716-446655440000"), "John Smith", "john.smith@example.com"),
    (UUID("550e8400-e29b-41d4-a716-446655440001"), "Jane Doe", "jane.doe@example.com"),
    (UUID("550e8400-e29b-41d4-a716-446655440002"), "Robert Johnson", "robert.johnson@example.com"),
    (UUID("550e8400-e29b-41d4-a716-446655440003"), "Emily Davis", "emily.davis@example.com"),
    (UUID("550e8400-e29b-41d4-a716-446655440004"), "Michael Wilson", "michael.wilson@example.com"),
)


def seed() -> list[str]:
    created = []
    for customer_id, name, email in DEMO_CUSTOMERS:
        if Customer.objects.filter(id=customer_id).exists():
            continue
        # Another customer may hold the address by now (the demo one deleted, the address reused):
        # leave it to them rather than fail the platform's start.
        if Customer.objects.filter(email__iexact=email).exists():
            continue
        customer_create(customer_id=customer_id, name=name, email=email)
        created.append(f"customer {name}")
    return created
