"""monitoring/: the alert rules, the dashboard and the scrape config speak of what the platform exposes.

Every PromQL expression is parsed (promql-parser, Prometheus' own grammar) and every metric it
names must be one the platform defines (shop/observability/metrics.py, django-prometheus's middleware
metrics, the relay's scrape-time gauges), Prometheus' own ``up`` or RabbitMQ's plugin's. A renamed
metric, a typo or a broken expression fails here, not on an operator's screen.
"""

import json
import re
from pathlib import Path

import promql_parser
import pytest
import yaml
from django.conf import settings
from prometheus_client import REGISTRY

from shop.observability import metrics
from shop.observability.http import RouteMetricsMiddleware
from shop.registry import METRICS_PORTS, SERVICES, WORKER_METRICS_PORT

MONITORING = Path(settings.BASE_DIR) / "monitoring"
ALERTS = MONITORING / "prometheus" / "alerts.yml"
SCRAPE = MONITORING / "prometheus" / "prometheus.yml"
DASHBOARD = MONITORING / "grafana" / "shop-saga.json"
COMPOSE = Path(settings.BASE_DIR) / "docker" / "compose.yaml"
EXTERNAL = re.compile(r"^(up|rabbitmq_\w+)$")  # Prometheus' own, RabbitMQ's prometheus plugin's


def sample_names(family) -> set[str]:
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [""])
    return {family.name + suffix for suffix in suffixes}


@pytest.fixture(scope="module")
def defined(django_db_blocker) -> set[str]:
    RouteMetricsMiddleware(lambda request: None)  # registers django-prometheus's metrics
    names = {name for family in REGISTRY.collect() for name in sample_names(family)}
    with django_db_blocker.unblock():
        # the relay's gauges, read at scrape time (shop_relay_database_up 0 is enough to name them all)
        names |= {
            name for family in metrics.OutboxCollector(["cart"], timeout=0.5).collect() for name in sample_names(family)
        }
    return names


def metric_names(expression: str) -> set[str]:
    found = set()

    def walk(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.add(node.name)
        for attribute in ("lhs", "rhs", "expr", "vector_selector"):
            child = getattr(node, attribute, None)
            if child is not None:
                walk(child)
        for child in getattr(node, "args", None) or []:
            walk(child)

    walk(promql_parser.parse(expression))
    return found


def grafana_to_promql(expression: str) -> str:
    """Grafana's variables as Prometheus would see them once Grafana has filled them in."""
    return re.sub(r"\$\{?\w+\}?", "x", expression.replace("$__rate_interval", "5m"))


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def dashboard_panels() -> list[dict]:
    return json.loads(DASHBOARD.read_text())["panels"]


def test_the_metric_names_of_the_platform_are_read_from_its_definitions(defined):
    # the guard itself: names the platform defines are found, one it does not is not
    assert {"shop_events_consumed_total", "shop_outbox_backlog", "shop_event_handler_seconds_bucket"} <= defined
    assert "django_http_responses_total_by_status_view_method_total" in defined
    assert "shop_events_consumed" not in defined


def test_every_alert_is_complete_and_speaks_of_metrics_the_platform_exposes(defined):
    rules = alert_rules()

    assert {rule["alert"] for rule in rules} >= {
        "ShopOutboxGrowing",  # a growing outbox
        "ShopDeadLettersWaiting",  # dead letters
        "ShopConsumerStalled",  # a stalled consumer
    }
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s")), rule["alert"]
        unknown = {name for name in metric_names(rule["expr"]) if name not in defined and not EXTERNAL.match(name)}
        assert unknown == set(), rule["alert"]


def test_every_dashboard_panel_queries_metrics_the_platform_exposes(defined):
    panels = [panel for panel in dashboard_panels() if panel["type"] != "row"]

    assert len(panels) >= 10
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(grafana_to_promql(target["expr"]))
            assert names, target["expr"]
            unknown = {name for name in names if name not in defined and not EXTERNAL.match(name)}
            assert unknown == set(), panel["title"]
    [topic] = [v for v in json.loads(DASHBOARD.read_text())["templating"]["list"] if v["name"] == "topic"]
    assert metric_names(re.sub(r"label_values\((\w+), \w+\)", r"\1", topic["definition"])) <= defined


def test_the_dashboard_panels_have_unique_ids_and_do_not_overlap():
    panels = dashboard_panels()
    cells = {}
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        for x in range(box["x"], box["x"] + box["w"]):
            for y in range(box["y"], box["y"] + box["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_the_scrape_config_reaches_every_process_as_compose_names_it():
    scrape = yaml.safe_load(SCRAPE.read_text())
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    targets = {job: {target for config in jobs[job]["static_configs"] for target in config["targets"]} for job in jobs}

    assert scrape["rule_files"] == [ALERTS.name]
    assert targets["shop-web"] == {f"{s.name}:{s.port}" for s in SERVICES.values()}
    assert targets["shop-relay"] == {f"relay:{METRICS_PORTS['relay']}"}
    assert targets["shop-bridge"] == {f"bridge:{METRICS_PORTS['bridge']}"}
    workers = {name for name in compose if name.startswith("worker-")}
    assert targets["shop-workers"] == {f"{name}:{WORKER_METRICS_PORT}" for name in workers}
    assert {name for name in SERVICES if f"worker-{name}" in workers} == {
        "order",
        "inventory",
        "notification",
        "email",
        "cart",
        "push",
    }
    for config in jobs["shop-web"]["static_configs"]:  # web metrics carry no service label of their own
        [target] = config["targets"]
        assert config["labels"]["service"] == target.partition(":")[0]
    for job, hosts in targets.items():
        assert {target.partition(":")[0] for target in hosts} <= set(compose), job
