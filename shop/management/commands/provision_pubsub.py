"""Create every topic and subscription the platform needs, with dead-letter topics (idempotent).

Works against the emulator (PUBSUB_EMULATOR_HOST) and against Google Cloud. On Google Cloud the
Pub/Sub service account also needs publisher on the dead-letter topics and subscriber on the
subscriptions (see README) for dead-lettering to work. The relay and the bridge re-provision what
they find missing themselves (apps/events/provisioning.py), so this is the first run's step.
"""

from django.core.management.base import BaseCommand

from apps.events.provisioning import Provisioner
from shop.topology import subscriptions, topics


class Command(BaseCommand):
    help = "Create Pub/Sub topics, subscriptions and dead-letter topics when missing."

    def handle(self, *args, **options):
        provisioner = Provisioner()
        for topic in topics():
            provisioner.topic(topic)
        for subscription in subscriptions():
            provisioner.subscription(subscription)
        for kind, name in provisioner.created:
            self.stdout.write(self.style.SUCCESS(f"created {kind} {name}"))
        self.stdout.write(f"Pub/Sub ready: {len(provisioner.created)} created, {provisioner.existing} already there")
