import factory

from apps.customers.models import Customer


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        database = "customer"

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    version = 1
