"""Staff see each service's outbox and inbox read-only, in that service's admin."""

from django.contrib import admin

from apps.events.dead_letters import replay
from apps.events.models import DeadLetter, OutboxEvent, ProcessedMessage
from shop.admin_mixins import ReadOnlyModelAdmin


class _ReadOnlyServiceAdmin(ReadOnlyModelAdmin):
    database = "default"

    def get_queryset(self, request):
        return super().get_queryset(request).using(self.database)


class OutboxEventAdmin(_ReadOnlyServiceAdmin):
    """What the service published; parked rows (the relay gave up on them) are filtered and sent again here."""

    list_display = (
        "id",
        "event_type",
        "event_id",
        "ordering_key",
        "occurred_at",
        "published_at",
        "publish_attempts",
        "parked_at",
        "redrive_count",
        "redrive_given_up_at",
        "last_error",
    )
    list_filter = (
        "event_type",
        ("published_at", admin.EmptyFieldListFilter),
        ("parked_at", admin.EmptyFieldListFilter),
        ("redrive_given_up_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("event_id", "ordering_key", "correlation_id", "last_error")
    date_hierarchy = "occurred_at"
    actions = ("publish_parked_again",)

    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.is_staff  # lets the changelist offer its action

    @admin.action(description="Publish the selected parked events again")
    def publish_parked_again(self, request, queryset):
        count = queryset.filter(parked_at__isnull=False).update(parked_at=None, publish_attempts=0)
        self.message_user(request, f"{count} parked event(s) handed back to the relay.")


class ProcessedMessageAdmin(_ReadOnlyServiceAdmin):
    list_display = ("id", "event_type", "message_id", "status", "attempts", "processed_at")
    list_filter = ("status", "event_type")
    search_fields = ("message_id", "correlation_id", "error_message")


class DeadLetterAdmin(_ReadOnlyServiceAdmin):
    """Events the service gave up on; staff replay them once the cause is fixed."""

    service = None
    list_display = ("event_type", "event_id", "attempts", "dead_lettered_at", "replayed_at", "error_message")
    list_filter = ("event_type", ("replayed_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id", "error_message")
    readonly_fields = ("raw_message_text",)
    actions = ("replay_selected",)

    @admin.display(description="raw message, as received ([event_type, payload, attributes])")
    def raw_message_text(self, letter: DeadLetter) -> str:
        """Shown even when jsonb could not take the payload (U+0000 in it)."""
        return "" if letter.raw_message is None else bytes(letter.raw_message).decode(errors="replace")

    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.is_staff  # lets the changelist offer its actions

    @admin.action(description="Replay the selected dead letters")
    def replay_selected(self, request, queryset):
        sent = replay(self.service, queryset.filter(replayed_at__isnull=True))
        self.message_user(request, f"{sent} dead letter(s) sent back to {self.service.service_name}.")


def register_messaging_admin(site: admin.AdminSite, *, service) -> None:
    admins = ((OutboxEvent, OutboxEventAdmin), (ProcessedMessage, ProcessedMessageAdmin), (DeadLetter, DeadLetterAdmin))
    for model, base in admins:
        site.register(model, type(base.__name__, (base,), {"database": service.database, "service": service}))
