"""The demo catalog every fresh platform starts with (idempotent)."""

from decimal import Decimal

from apps.products.models import Product
from apps.products.services import product_create

DEMO_PRODUCTS = (
    ("LAP-001", "Laptop", "14-inch laptop, 16 GB RAM, 512 GB SSD", Decimal("999.99")),
    ("PHN-001", "Smartphone", "6.1-inch smartphone, 128 GB", Decimal("699.99")),
    ("HPH-001", "Headphones", "Wireless noise-cancelling headphones", Decimal("199.99")),
    ("WCH-001", "Smart Watch", "Fitness tracking smart watch", Decimal("249.99")),
    ("TAB-001", "Tablet", "10-inch tablet, 64 GB", Decimal("449.99")),
)


def seed() -> list[str]:
    created = []
    for sku, name, description, price in DEMO_PRODUCTS:
        if not Product.objects.filter(sku=sku).exists():
            product_create(sku=sku, name=name, description=description, price=price)
            created.append(f"product {sku}")
    return created
