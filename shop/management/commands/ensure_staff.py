"""Create the staff login from STAFF_USERNAME / STAFF_PASSWORD when both are set and it is absent.

An existing account is left as it is: setup runs on every deploy, and resetting the password
each time would undo every change made since (and bring back a leaked initial one).
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the staff superuser described by the STAFF_* settings, unless it exists."

    def handle(self, *args, **options):
        username, password = settings.STAFF_USERNAME, settings.STAFF_PASSWORD
        if not (username and password):
            self.stdout.write("STAFF_USERNAME/STAFF_PASSWORD not set: no staff login created")
            return
        users = get_user_model().objects
        if users.filter(username=username).exists():
            self.stdout.write(f"staff login {username!r} exists: its password is left as it is")
            return
        users.create_superuser(username=username, email=settings.STAFF_EMAIL, password=password)
        self.stdout.write(self.style.SUCCESS(f"staff login {username!r} created"))
