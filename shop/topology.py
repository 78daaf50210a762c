"""Who consumes what: derived from each service's handler map, so it cannot drift from the code."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module, util

from apps.events.contracts import EVENTS
from apps.events.pubsub import dead_letter_name, subscription_name
from shop.registry import SERVICES, Service


@dataclass(frozen=True)
class Subscription:
    service: Service
    topic: str

    @property
    def name(self) -> str:
        return subscription_name(self.service.service_name, self.topic)

    @property
    def dead_letter(self) -> str:
        return dead_letter_name(self.name)


def handlers_of(service: Service) -> dict:
    module = f"apps.{service.app_label}.handlers"
    return import_module(module).HANDLERS if util.find_spec(module) else {}


def subscriptions(service: Service | None = None) -> list[Subscription]:
    services = [service] if service else list(SERVICES.values())
    return [Subscription(s, topic) for s in services for topic in sorted(handlers_of(s))]


def topics() -> list[str]:
    return sorted(EVENTS)
