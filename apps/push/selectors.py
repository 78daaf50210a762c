from uuid import UUID

from django.db.models import QuerySet

from apps.push.models import PushMessage


def push_messages_of(*, customer_id: UUID) -> QuerySet[PushMessage]:
    return PushMessage.objects.filter(customer_id=customer_id)
