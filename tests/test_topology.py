"""One topology, derived from the code; every other place that names it is checked against it."""

import ast
import re
from pathlib import Path

from apps.events.contracts import EVENTS
from audit.invariants import NOTIFYING_EVENTS
from bench.measure import HOPS
from runner.processes import WORKER_GROUPS
from shop import topology
from shop.registry import SERVICES

ROOT = Path(__file__).resolve().parents[1]


def constructed_in(path: Path) -> set[str]:
    """The topics of the events a module constructs (what a service's outbox can hold)."""
    if not path.exists():
        return set()
    names = {
        getattr(node.func, "id", None) for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)
    }
    return {cls.topic for cls in EVENTS.values() if cls.__name__ in names}


def test_each_service_declares_exactly_the_events_its_code_records():
    for service in SERVICES.values():
        declared = set(topology.published_by(service))
        assert declared == constructed_in(ROOT / "apps" / service.app_label / "events.py"), service.name


def test_the_contracts_name_the_same_publishers_as_the_services_declare():
    for flow in topology.flows():
        assert {f"{p}-service" for p in flow.producers} == set(EVENTS[flow.topic].producers), flow.topic


def test_every_topic_is_published_and_consumed():
    for flow in topology.flows():
        assert flow.producers, f"nobody publishes {flow.topic}"
        assert flow.consumers, f"nobody consumes {flow.topic}"


def test_the_readme_shows_the_topology_the_code_declares():
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"<!-- topology:start -->\n(.*?)\n<!-- topology:end -->", readme, re.S)
    assert section, "the README's topology section is missing its markers"
    assert section.group(1) == f"```mermaid\n{topology.mermaid()}\n```\n\n{topology.flows_table()}", (
        "README out of date: paste shop.topology.mermaid() and flows_table() between the markers"
    )


def test_the_benchmark_measures_hops_that_exist():
    edges = topology.edges()
    for topic, producer, consumer in HOPS:
        assert (producer, topic, consumer) in edges


def test_the_audit_counts_notifications_for_events_their_publishers_publish_and_the_notification_service_takes():
    flows = {flow.topic: flow for flow in topology.flows()}
    for topic, producer in NOTIFYING_EVENTS.items():
        assert producer in flows[topic].producers
        assert "notification" in flows[topic].consumers


def test_the_local_worker_groups_consume_every_queue_that_has_handlers_once():
    grouped = [name for members in WORKER_GROUPS.values() for name in members]
    consuming = [service.name for service in SERVICES.values() if topology.handlers_of(service)]
    assert sorted(grouped) == sorted(consuming)
