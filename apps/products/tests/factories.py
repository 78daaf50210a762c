from decimal import Decimal

import factory

from apps.products.models import Product


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        database = "product"

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Faker("word")
    description = factory.Faker("sentence")
    price = Decimal("10.00")
    version = 1
