"""Carts are readable by staff; they change only through the customer's API and the saga."""

from django.contrib import admin

from apps.carts.models import Cart, CartItem, CatalogProduct
from shop.admin_mixins import ReadOnlyModelAdmin


class CartItemInline(admin.TabularInline):
    model = CartItem
    extra = 0
    can_delete = False
    readonly_fields = ("product_sku", "quantity", "added_at")

    def has_add_permission(self, request, obj=None):
        return False


class CartAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "customer_id", "status", "cart_locked", "updated_at")
    list_filter = ("status", "cart_locked")
    search_fields = ("id", "customer_id")
    inlines = (CartItemInline,)


class CatalogProductAdmin(ReadOnlyModelAdmin):
    list_display = ("sku", "name", "price", "deleted", "version", "synced_at")
    list_filter = ("deleted",)
    search_fields = ("sku", "name")


def register(site: admin.AdminSite) -> None:
    site.register(Cart, CartAdmin)
    site.register(CatalogProduct, CatalogProductAdmin)
