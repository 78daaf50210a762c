"""Staff manage stock here; every change goes through the service so the ledger stays whole."""

from django.contrib import admin

from apps.inventory import services
from apps.inventory.models import InventoryItem, Reservation, StockMovement
from shop.admin_mixins import ReadOnlyModelAdmin


class InventoryItemAdmin(admin.ModelAdmin):
    list_display = ("product_sku", "quantity", "updated_at")
    list_editable = ("quantity",)
    search_fields = ("product_sku",)
    list_filter = ("updated_at",)
    readonly_fields = ("created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "product_sku") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        reference = f"admin:{request.user}"
        if change:
            services.inventory_set_quantity(product_sku=obj.product_sku, quantity=obj.quantity, reference=reference)
        else:
            services.inventory_create(product_sku=obj.product_sku, quantity=obj.quantity, reference=reference)

    def delete_model(self, request, obj):
        services.inventory_delete(product_sku=obj.product_sku, reference=f"admin:{request.user}")

    def delete_queryset(self, request, queryset):
        for item in queryset:
            self.delete_model(request, item)


class StockMovementAdmin(ReadOnlyModelAdmin):
    list_display = ("product_sku", "delta", "kind", "reference", "created_at")
    list_filter = ("kind",)
    search_fields = ("product_sku", "reference")


class ReservationAdmin(ReadOnlyModelAdmin):
    list_display = ("cart_id", "customer_id", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("cart_id", "customer_id")


def register(site: admin.AdminSite) -> None:
    site.register(Reservation, ReservationAdmin)
    site.register(InventoryItem, InventoryItemAdmin)
    site.register(StockMovement, StockMovementAdmin)
