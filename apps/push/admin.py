from django.contrib import admin

from apps.push.models import PushMessage
from shop.admin_mixins import ReadOnlyModelAdmin


class PushMessageAdmin(ReadOnlyModelAdmin):
    list_display = ("title", "customer_id", "created_at")
    search_fields = ("customer_id", "notification_id", "title")
    date_hierarchy = "created_at"


def register(site: admin.AdminSite) -> None:
    site.register(PushMessage, PushMessageAdmin)
