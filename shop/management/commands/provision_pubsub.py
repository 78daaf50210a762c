"""Create every topic and subscription the platform needs, with dead-letter topics (idempotent).

Works against the emulator (PUBSUB_EMULATOR_HOST) and against Google Cloud. On Google Cloud the
Pub/Sub service account also needs publisher on the dead-letter topics and subscriber on the
subscriptions (see README) for dead-lettering to work.
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from google.api_core import exceptions
from google.protobuf import duration_pb2

from apps.events.pubsub import publisher, subscriber, subscription_path, topic_path
from shop.topology import subscriptions, topics


class Command(BaseCommand):
    help = "Create Pub/Sub topics, subscriptions and dead-letter topics when missing."

    def handle(self, *args, **options):
        pub, sub = publisher(), subscriber()
        created = existing = 0

        def ensure(kind: str, name: str, create) -> None:
            nonlocal created, existing
            try:
                create()
                created += 1
                self.stdout.write(self.style.SUCCESS(f"created {kind} {name}"))
            except exceptions.AlreadyExists:
                existing += 1

        for topic in topics():
            ensure("topic", topic, lambda topic=topic: pub.create_topic(request={"name": topic_path(topic)}))
        for subscription in subscriptions():
            dead_letter = subscription.dead_letter
            ensure("topic", dead_letter, lambda t=dead_letter: pub.create_topic(request={"name": topic_path(t)}))
            ensure(
                "subscription",
                dead_letter,
                lambda s=dead_letter: sub.create_subscription(
                    request={"name": subscription_path(s), "topic": topic_path(s), "ack_deadline_seconds": 60}
                ),
            )
            ensure(
                "subscription",
                subscription.name,
                lambda s=subscription: sub.create_subscription(request=self._subscription_request(s)),
            )
        self.stdout.write(f"Pub/Sub ready: {created} created, {existing} already there")

    @staticmethod
    def _subscription_request(subscription) -> dict:
        return {
            "name": subscription_path(subscription.name),
            "topic": topic_path(subscription.topic),
            "ack_deadline_seconds": settings.PUBSUB_ACK_DEADLINE_SECONDS,
            "enable_message_ordering": settings.PUBSUB_ENABLE_MESSAGE_ORDERING,
            "dead_letter_policy": {
                "dead_letter_topic": topic_path(subscription.dead_letter),
                "max_delivery_attempts": settings.PUBSUB_MAX_DELIVERY_ATTEMPTS,
            },
            "retry_policy": {
                "minimum_backoff": duration_pb2.Duration(seconds=settings.PUBSUB_MIN_BACKOFF_SECONDS),
                "maximum_backoff": duration_pb2.Duration(seconds=settings.PUBSUB_MAX_BACKOFF_SECONDS),
            },
        }
