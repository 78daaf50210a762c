"""Orders are readable by staff; they change through the API so their events are published."""

from django.contrib import admin

from apps.orders.models import CatalogProduct, Order, OrderFailure, OrderItem, OrderStatusChange
from shop.admin_mixins import ReadOnlyModelAdmin


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
