from django.contrib import admin

from apps.email.models import CustomerContact, EmailMessage
from shop.admin_mixins import ReadOnlyModelAdmin


class EmailMessageAdmin(ReadOnlyModelAdmin):
    list_display = ("subject", "to_address", "status", "sent_at")
    list_filter = ("status",)
    search_fields = ("to_address", "subject", "notification_id", "customer_id")


class CustomerContactAdmin(ReadOnlyModelAdmin):
    list_display = ("customer_id", "name", "email", "deleted", "synced_at")
    search_fields = ("customer_id", "name", "email")


def register(site: admin.AdminSite) -> None:
    site.register(EmailMessage, EmailMessageAdmin)
    site.register(CustomerContact, CustomerContactAdmin)
