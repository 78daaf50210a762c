"""Create the demo customers, catalog and stock when they are missing (idempotent).

Each service seeds its own data through its own services, so the events the data causes
(product.changed, customer.changed) are recorded in its outbox like any other change.
"""

from importlib import import_module, util

from django.core.management.base import BaseCommand

from shop.registry import SERVICES


class Command(BaseCommand):
    help = "Seed the demo customers, catalog and stock."

    def handle(self, *args, **options):
        for service in SERVICES.values():
            module = f"apps.{service.app_label}.demo"
            if util.find_spec(module) is None:
                continue
            created = import_module(module).seed()
            for line in created:
                self.stdout.write(self.style.SUCCESS(f"{service.name}: created {line}"))
            if not created:
                self.stdout.write(f"{service.name}: demo data present")
