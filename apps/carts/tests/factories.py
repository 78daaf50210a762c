import uuid
from decimal import Decimal

import factory
from django.utils import timezone

from apps.carts.enums import CartStatus
from apps.carts.models import Cart, CartItem, CatalogProduct


class CatalogProductFactory(factory.django.DjangoModelFactory):
    """A product as the cart service knows it from product.changed events."""

    class Meta:
        model = CatalogProduct
        database = "cart"

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Faker("word")
    price = Decimal("10.00")
    version = 1
    deleted = False


class CartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cart
        database = "cart"

    customer_id = factory.LazyFunction(uuid.uuid4)
    status = CartStatus.ACTIVE
    cart_locked = False

    class Params:
        processing = factory.Trait(
            status=CartStatus.PROCESSING, cart_locked=True, converted_at=factory.LazyFunction(timezone.now)
        )
        ordered = factory.Trait(
            status=CartStatus.ORDERED, cart_locked=True, converted_at=factory.LazyFunction(timezone.now)
        )
        stock_unavailable = factory.Trait(
            status=CartStatus.STOCK_UNAVAILABLE, cart_locked=False, converted_at=factory.LazyFunction(timezone.now)
        )


class CartItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartItem
        database = "cart"

    cart = factory.SubFactory(CartFactory)
    product_sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    quantity = 1
