import uuid

import factory
from django.utils import timezone

from apps.email.enums import EmailStatus
from apps.email.models import CustomerContact, EmailMessage


class CustomerContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerContact
        database = "email"

    customer_id = factory.LazyFunction(uuid.uuid4)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    version = 1


class EmailMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailMessage
        database = "email"

    notification_id = factory.LazyFunction(uuid.uuid4)
    customer_id = factory.LazyFunction(uuid.uuid4)
    to_address = factory.Sequence(lambda n: f"customer{n}@example.com")
    subject = factory.Faker("sentence", nb_words=4)
    body = factory.Faker("paragraph")
    status = EmailStatus.SENT
    sent_at = factory.LazyFunction(timezone.now)
