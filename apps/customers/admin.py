"""Customers are readable by staff; changes go through the API so their events are published."""

from django.contrib import admin

from apps.customers.models import Customer
from shop.admin_mixins import ReadOnlyModelAdmin


class CustomerAdmin(ReadOnlyModelAdmin):
    list_display = ("name", "email", "id", "created_at")
    search_fields = ("name", "email", "id")
    list_filter = ("created_at",)


def register(site: admin.AdminSite) -> None:
    site.register(Customer, CustomerAdmin)
