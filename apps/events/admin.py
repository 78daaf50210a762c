"""Staff see each service's outbox and inbox read-only, in that service's admin."""

from django.contrib import admin

from apps.events.models import OutboxEvent, ProcessedMessage
from shop.admin_mixins import ReadOnlyModelAdmin


class _ReadOnlyServiceAdmin(ReadOnlyModelAdmin):
    database = "default"

    def get_queryset(self, request):
        return super().get_queryset(request).using(self.database)


class OutboxEventAdmin(_ReadOnlyServiceAdmin):
    list_display = ("id", "event_type", "event_id", "ordering_key", "occurred_at", "published_at")
    list_filter = ("event_type", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id", "ordering_key", "correlation_id")
    date_hierarchy = "occurred_at"


class ProcessedMessageAdmin(_ReadOnlyServiceAdmin):
    list_display = ("id", "event_type", "message_id", "status", "attempts", "processed_at")
    list_filter = ("status", "event_type")
    search_fields = ("message_id", "error_message")


def register_messaging_admin(site: admin.AdminSite, *, database: str) -> None:
    for model, base in ((OutboxEvent, OutboxEventAdmin), (ProcessedMessage, ProcessedMessageAdmin)):
        site.register(model, type(base.__name__, (base,), {"database": database}))
