"""Migrate the staff database and every service's database."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run `migrate` against every configured database."

    def handle(self, *args, **options):
        for alias in settings.DATABASES:
            self.stdout.write(f"migrating {alias}")
            call_command("migrate", database=alias, interactive=False, verbosity=max(options["verbosity"] - 1, 0))
