"""Move the task messages the broker parked (past their delivery limit) back to their service's queue."""

from celery import current_app
from django.core.management.base import BaseCommand

from apps.events.queues import is_quorum, parking_queue, task_queue
from shop.registry import SERVICES

# Headers the broker added when it dead-lettered the message; the moved copy starts afresh.
DEATH_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason", "x-delivery-count")


class Command(BaseCommand):
    help = "Move parked task messages (<queue>.dead-letter) back to their queue, or list them (--dry-run)."

    def add_arguments(self, parser):
        parser.add_argument("--service", action="append", choices=sorted(SERVICES), help="default: every service")
        parser.add_argument("--dry-run", action="store_true", help="list what is parked, move nothing")

    def handle(self, *args, **options):
        moved = 0
        with current_app.connection_for_write() as connection:
            channel = connection.channel()
            for name in options["service"] or list(SERVICES):
                queue = task_queue(SERVICES[name])
                if not is_quorum(queue):
                    continue
                parked = parking_queue(queue.name)
                _, count, _ = channel.queue_declare(parked, durable=True, auto_delete=False)
                self.stdout.write(f"{parked}: {count} parked")
                if options["dry_run"]:
                    continue
                while (message := channel.basic_get(parked)) is not None:
                    headers = message.properties.get("application_headers") or {}
                    message.properties["application_headers"] = {
                        key: value for key, value in headers.items() if key not in DEATH_HEADERS
                    }
                    channel.basic_publish(message, exchange=queue.exchange.name, routing_key=queue.routing_key)
                    channel.basic_ack(message.delivery_tag)
                    moved += 1
        self.stdout.write(self.style.SUCCESS(f"moved {moved} parked message(s) back"))
