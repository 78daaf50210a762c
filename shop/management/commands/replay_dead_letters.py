"""Send dead-lettered events back to their service's handlers, once their cause is fixed."""

from django.core.management.base import BaseCommand

from apps.events.dead_letters import pending_dead_letters, replay
from shop.registry import SERVICES
from shop.topology import handlers_of


class Command(BaseCommand):
    help = "Replay the dead letters of some or all services (those not replayed yet)."

    def add_arguments(self, parser):
        parser.add_argument("--service", action="append", choices=sorted(SERVICES), help="default: every service")
        parser.add_argument("--event-id", action="append", help="only these events")
        parser.add_argument("--dry-run", action="store_true", help="list what would be replayed")

    def handle(self, *args, **options):
        total = 0
        for name in options["service"] or list(SERVICES):
            service = SERVICES[name]
            if not handlers_of(service):
                continue
            letters = pending_dead_letters(service)
            if options["event_id"]:
                letters = letters.filter(event_id__in=options["event_id"])
            letters = list(letters)
            for letter in letters:
                self.stdout.write(
                    f"{service.service_name}: {letter.event_type} {letter.event_id}: {letter.error_message}"
                )
            if not options["dry_run"]:
                total += replay(service, letters)
        if options["dry_run"]:
            self.stdout.write("dry run: nothing replayed")
        else:
            self.stdout.write(self.style.SUCCESS(f"replayed {total} dead letter(s)"))
