"""Show everything that happened to one cart or order, across every service, in time order.

Reads each service's database through its own connection (as the audit does): run it without
SHOP_SERVICE. The same entries as GET /orders/{id}/timeline, without asking the services over HTTP.
"""

import json
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from audit.invariants import missing_databases
from audit.trace import table, trace


class Command(BaseCommand):
    help = (
        "The life of one cart across the services: every event published and consumed (retries, failures, "
        "dead letters) and every state change, in time order. ID: a cart id, an order id or a correlation id."
    )

    def add_arguments(self, parser):
        parser.add_argument("id", help="a cart id, an order id or a correlation id (UUID)")
        parser.add_argument("--json", action="store_true", help="print the timeline as JSON (for tools)")

    def handle(self, *args, **options):
        try:
            identifier = uuid.UUID(options["id"])
        except ValueError:
            raise CommandError(f"{options['id']!r} is not a UUID", returncode=2) from None
        missing = missing_databases()
        if missing:
            raise CommandError(f"no connection for {', '.join(missing)}: run trace without SHOP_SERVICE", returncode=2)
        try:
            timeline, kind = trace(identifier)
        except DatabaseError as exc:
            raise CommandError(f"could not read the databases: {exc}", returncode=2) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"id": str(identifier), "resolved_as": kind, **timeline.as_dict()}, indent=2))
            return
        self.stdout.write(f"{identifier}: {kind}; correlation id {timeline.correlation_id}")
        if not timeline.entries:
            self.stdout.write("nothing recorded for it in any service")
            return
        first = timeline.entries[0].at
        self.stdout.write(f"{len(timeline.entries)} entries from {first.isoformat()}")
        for line in table(timeline.entries):
            self.stdout.write(line)
