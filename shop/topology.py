"""Who publishes and who consumes what: derived from each app's declarations, so it cannot drift from the code.

A service publishes the events its ``events.PUBLISHES`` names and consumes those its
``handlers.HANDLERS`` maps; the subscriptions, the README's diagram (``mermaid()``, checked by a
test), the benchmark's hops and the audit's topics are all checked against what is derived here.
"""

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


def published_by(service: Service) -> tuple[str, ...]:
    """The topics the service publishes, as its events.py declares them."""
    module = f"apps.{service.app_label}.events"
    return tuple(event.topic for event in import_module(module).PUBLISHES) if util.find_spec(module) else ()


@dataclass(frozen=True)
class Flow:
    """One topic: who publishes it and who consumes it (service names, sorted)."""

    topic: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]


def flows() -> list[Flow]:
    """Every topic of the platform with its publishers and consumers, in topic order."""
    producers: dict[str, list[str]] = {topic: [] for topic in topics()}
    consumers: dict[str, list[str]] = {topic: [] for topic in topics()}
    for service in SERVICES.values():
        for topic in published_by(service):
            producers[topic].append(service.name)
        for topic in handlers_of(service):
            consumers[topic].append(service.name)
    return [Flow(topic, tuple(sorted(producers[topic])), tuple(sorted(consumers[topic]))) for topic in topics()]


def edges() -> set[tuple[str, str, str]]:
    """(producer, topic, consumer) for every way an event travels between two services."""
    return {(p, flow.topic, c) for flow in flows() for p in flow.producers for c in flow.consumers}


def flows_table() -> str:
    """The topology as a markdown table (topic, published by, consumed by): the README's, generated here."""
    lines = ["| topic | published by | consumed by |", "|---|---|---|"]
    for flow in flows():
        lines.append(f"| `{flow.topic}` | {', '.join(flow.producers)} | {', '.join(flow.consumers)} |")
    return "\n".join(lines)


def mermaid() -> str:
    """The topology as a mermaid flowchart: the README's diagram, generated here."""
    lines = ["flowchart LR"]
    for producer, topic, consumer in sorted(edges(), key=lambda edge: (edge[1], edge[0], edge[2])):
        lines.append(f"    {producer} -->|{topic}| {consumer}")
    return "\n".join(lines)


def subscriptions(service: Service | None = None) -> list[Subscription]:
    services = [service] if service else list(SERVICES.values())
    return [Subscription(s, topic) for s in services for topic in sorted(handlers_of(s))]


def topics() -> list[str]:
    return sorted(EVENTS)
