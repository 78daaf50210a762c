from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """For records that only the platform itself writes: staff may look, not touch."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
