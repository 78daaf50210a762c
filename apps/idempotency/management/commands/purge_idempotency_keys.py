"""Delete expired idempotency keys from each service database (they count as absent anyway)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.idempotency.services import idempotency_keys_purge
from shop.registry import SERVICES


class Command(BaseCommand):
    help = "Delete the idempotency keys older than IDEMPOTENCY_TTL from some or all service databases."

    def add_arguments(self, parser):
        parser.add_argument(
            "--service", action="append", choices=sorted(SERVICES), help="default: every service this process knows"
        )

    def handle(self, *args, **options):
        names = options["service"] or [name for name in SERVICES if SERVICES[name].database in settings.DATABASES]
        total = 0
        for name in names:
            deleted = idempotency_keys_purge(database=SERVICES[name].database)
            total += deleted
            self.stdout.write(f"{SERVICES[name].service_name}: {deleted} expired key(s) deleted")
        self.stdout.write(self.style.SUCCESS(f"deleted {total} expired idempotency key(s)"))
