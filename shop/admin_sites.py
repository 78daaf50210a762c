"""One admin site per service, showing only that service's models.

Each service process connects only to its own database (plus the shared staff database that
holds accounts and sessions), so each serves its own admin at /admin/ on its own port. A single
console over every database would be the one process that breaks data ownership, and it would
have to call every service's write paths anyway so that admin edits publish their events.
"""

from importlib import import_module

from axes.admin import AccessAttemptAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from apps.events.admin import register_messaging_admin
from shop.registry import Service


class ServiceAdminSite(admin.AdminSite):
    def __init__(self, service: Service):
        super().__init__(name=f"{service.name}-admin")
        self.site_header = f"{service.service_name} administration"
        self.site_title = service.service_name
        self.index_title = f"{service.service_name} (port {service.port})"
        self.register(User, UserAdmin)
        self.register(Group, GroupAdmin)
        # Shared like the accounts: deleting an attempt lifts its lockout on every service.
        self.register(AccessAttempt, AccessAttemptAdmin)
        self.register(AccessLog, AccessLogAdmin)
        import_module(f"apps.{service.app_label}.admin").register(self)
        register_messaging_admin(self, service=service)
