"""Everything a fresh machine needs before the services start: databases, schema, demo data, staff."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create databases, migrate them all, seed the demo data and the staff login."

    def handle(self, *args, **options):
        for command in ("ensure_databases", "migrate_all", "seed_demo", "ensure_staff"):
            call_command(command, verbosity=options["verbosity"])
