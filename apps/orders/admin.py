"""Orders are readable by staff; they change through the API so their events are published."""

import uuid

from django.contrib import admin

from apps.orders.models import CatalogProduct, Order, OrderFailure, OrderItem, OrderStatusChange
from apps.orders.trail import order_timeline
from shop.admin_mixins import ReadOnlyModelAdmin
from shop.errors import NotFound
from shop.observability.timeline import forwarded_credentials


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    can_delete = False
    readonly_fields = ("product_sku", "quantity", "price")

    def has_add_permission(self, request, obj=None):
        return False


class OrderStatusChangeInline(admin.TabularInline):
    model = OrderStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "reason", "changed_at")

    def has_add_permission(self, request, obj=None):
        return False


class OrderAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "customer_id", "status", "total_amount", "created_at")
    list_filter = ("status", "created_at")
    search_fields = ("id", "customer_id", "cart_id")
    date_hierarchy = "created_at"
    inlines = (OrderItemInline, OrderStatusChangeInline)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The order's page shows its cart's timeline across the services (as GET /orders/{id}/timeline),
        asked of the other services with this staff member's session."""
        extra_context = dict(extra_context or {})
        try:
            order_id = uuid.UUID(str(object_id))
            extra_context["timeline"] = order_timeline(order_id=order_id, headers=forwarded_credentials(request))
        except (ValueError, NotFound):
            pass  # the admin answers for an unknown order itself
        return super().change_view(request, object_id, form_url, extra_context)


class CatalogProductAdmin(ReadOnlyModelAdmin):
    list_display = ("sku", "name", "price", "deleted", "version", "synced_at")
    list_filter = ("deleted",)
    search_fields = ("sku", "name")


class OrderFailureAdmin(ReadOnlyModelAdmin):
    list_display = ("cart_id", "attempt", "customer_id", "created_at")
    search_fields = ("cart_id", "customer_id")
    date_hierarchy = "created_at"


def register(site: admin.AdminSite) -> None:
    site.register(Order, OrderAdmin)
    site.register(CatalogProduct, CatalogProductAdmin)
    site.register(OrderFailure, OrderFailureAdmin)
