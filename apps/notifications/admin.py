from django.contrib import admin

from apps.notifications.models import Notification
from shop.admin_mixins import ReadOnlyModelAdmin


class NotificationAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "audience", "customer_id", "channel", "title", "status", "event_type", "created_at")
    list_filter = ("status", "channel", "audience", "event_type")
    search_fields = ("id", "customer_id", "event_id", "title", "recipient")
    date_hierarchy = "created_at"


def register(site: admin.AdminSite) -> None:
    site.register(Notification, NotificationAdmin)
