import uuid

import factory

from apps.notifications.enums import Audience, Channel, NotificationStatus
from apps.notifications.models import Notification


class NotificationFactory(factory.django.DjangoModelFactory):
    """A customer's notification; pass ``created_at`` to place it on the timeline."""

    class Meta:
        model = Notification
        database = "notification"

    customer_id = factory.LazyFunction(uuid.uuid4)
    audience = Audience.CUSTOMER
    channel = Channel.EMAIL
    title = factory.Faker("sentence", nb_words=4)
    message = factory.Faker("paragraph")
    status = NotificationStatus.PENDING

    @classmethod
    def _create(cls, model_class, *args, created_at=None, **kwargs):
        # created_at is auto_now_add, which ignores a value given to create().
        notification = super()._create(model_class, *args, **kwargs)
        if created_at is not None:
            model_class.objects.using(cls._meta.database).filter(pk=notification.pk).update(created_at=created_at)
            notification.created_at = created_at
        return notification
