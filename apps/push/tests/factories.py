import uuid

import factory

from apps.push.models import PushMessage


class PushMessageFactory(factory.django.DjangoModelFactory):
    """A delivered push message; pass ``created_at`` to place it on the timeline."""

    class Meta:
        model = PushMessage
        database = "push"

    customer_id = factory.LazyFunction(uuid.uuid4)
    notification_id = factory.LazyFunction(uuid.uuid4)
    title = factory.Faker("sentence", nb_words=4)
    message = factory.Faker("paragraph")

    @classmethod
    def _create(cls, model_class, *args, created_at=None, **kwargs):
        # created_at is auto_now_add, which ignores a value given to create().
        push = super()._create(model_class, *args, **kwargs)
        if created_at is not None:
            model_class.objects.using(cls._meta.database).filter(pk=push.pk).update(created_at=created_at)
            push.created_at = created_at
        return push
