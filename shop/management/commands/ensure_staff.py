"""Create (or update) the staff login from STAFF_USERNAME / STAFF_PASSWORD when both are set."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the staff superuser described by the STAFF_* settings."

    def handle(self, *args, **options):
        username, password = settings.STAFF_USERNAME, settings.STAFF_PASSWORD
        if not (username and password):
            self.stdout.write("STAFF_USERNAME/STAFF_PASSWORD not set: no staff login created")
            return
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"email": settings.STAFF_EMAIL}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        verb = "created" if created else "updated"
        self.stdout.write(self.style.SUCCESS(f"staff login {username!r} {verb}"))
