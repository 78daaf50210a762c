"""Staff manage the catalog here; every save goes through the service so its event is published."""

from django.contrib import admin

from apps.products import services
from apps.products.models import Product


class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "price", "updated_at")
    list_editable = ("price",)
    search_fields = ("sku", "name", "description")
    list_filter = ("updated_at",)
    readonly_fields = ("version", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "sku") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in services.UPDATABLE_FIELDS if name in form.cleaned_data}
        if change:
            services.product_update(sku=obj.sku, **fields)
        else:
            services.product_create(sku=form.cleaned_data["sku"], **fields)

    def delete_model(self, request, obj):
        services.product_delete(sku=obj.sku)

    def delete_queryset(self, request, queryset):
        for product in queryset:
            services.product_delete(sku=product.sku)


def register(site: admin.AdminSite) -> None:
    site.register(Product, ProductAdmin)
