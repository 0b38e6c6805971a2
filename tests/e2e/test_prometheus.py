"""A real Prometheus scrapes the running pipeline; its HTTP API shows domain metrics and alerts."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from schemas.topics import Topic
from services.common.kafka import start_group_at_end
from tests.e2e.conftest import REPO, Stack, free_port, wait_for

pytestmark = pytest.mark.kafka

SCRIPT = REPO / "deploy" / "prometheus" / "prometheus.sh"
RULES = REPO / "deploy" / "prometheus" / "rules.yml"
ORDERS = [
    "REQ 4 pallets of bottled water to FOB Halcyon within 12 hrs. Routine. SGT T. BELL",
    "Please send 80 blankets to Gullwing Camp within 20 hours. Thanks, Ana Ruiz",
]


def fast_rules() -> dict[str, Any]:
    """rules.yml with every alert's `for:` removed, so an alert fires on its first evaluation."""
    rules: dict[str, Any] = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    return rules


class Prometheus:
    """A Prometheus server started by deploy/prometheus/prometheus.sh for one test."""

    def __init__(self, workdir: Path, targets: dict[str, int]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "rules.yml").write_text(yaml.safe_dump(fast_rules()))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yml"],
            "scrape_configs": [
                {"job_name": f"qm-{name}", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                for name, port in targets.items()
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.env = {
            **os.environ,
            "QM_PROMETHEUS_PORT": str(self.port),
            "QM_PROMETHEUS_STATE_DIR": str(workdir / "state"),
            "QM_PROMETHEUS_CONFIG": str(workdir / "prometheus.yml"),
        }

    def run(self, command: str) -> None:
        """start or stop through the same script operators use."""
        result = subprocess.run(
            [str(SCRIPT), command], env=self.env, capture_output=True, text=True, timeout=90
        )
        assert result.returncode == 0, f"prometheus.sh {command}:\n{result.stdout}{result.stderr}"

    def api(self, path: str, **params: str) -> Any:
        """GET an HTTP API endpoint and return its `data`."""
        body = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=5).json()
        assert body["status"] == "success", body
        return body["data"]

    def value(self, promql: str) -> float | None:
        """The single value of an instant query, or None when it returns nothing."""
        result = self.api("query", query=promql)["result"]
        return float(result[0]["value"][1]) if result else None

    def equals(self, promql: str, expected: float) -> bool:
        """Whether an instant query returns exactly this value now."""
        return self.value(promql) == expected

    def firing(self) -> set[str]:
        """Names of the alerts firing now."""
        return {
            a["labels"]["alertname"] for a in self.api("alerts")["alerts"] if a["state"] == "firing"
        }


def _agrees(prometheus: Prometheus, promql: str, stack: Stack, service: str, metric: str) -> bool:
    """Prometheus' latest value equals what the service serves on /metrics right now."""
    return prometheus.equals(promql, stack.metric(service, metric))


@pytest.fixture
def prometheus(stack: Stack, tmp_path: Path) -> Iterator[Prometheus]:
    """A real Prometheus scraping the stack's metrics ports; stopped whatever happens."""
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed; run `make setup` (installs Debian's prometheus)")
    server = Prometheus(tmp_path / "prometheus", stack.ports)
    server.run("start")
    try:
        yield server
    finally:
        server.run("stop")


@pytest.fixture
def pipeline(stack: Stack) -> Stack:
    """Gate, planner (plans every two orders) and the rules-only parser.

    The parser's and planner's fresh groups start at the end of their topics: earlier tests'
    poison messages there would be dead-lettered again and fire QmDeadLetters, which this test
    requires to stay quiet.
    """
    bootstrap = stack.env["KAFKA_BOOTSTRAP"]
    for group, topic in (
        (stack.env["QM_PARSER_GROUP_ID"], Topic.ORDERS_SUBMITTED),
        (stack.env["QM_PLANNER_GROUP_ID"], Topic.ORDERS_PARSED),
    ):
        asyncio.run(start_group_at_end(bootstrap, group, topic.value))
    stack.start("gate")
    stack.start("planner", QM_PLANNER_BATCH_MAX_ORDERS="2", QM_PLANNER_BATCH_WINDOW_S="60")
    stack.start("parser", QM_PARSER_BACKEND="rules")
    return stack


def test_prometheus_sees_orders_plans_and_a_plan_waiting_for_a_human(
    pipeline: Stack, prometheus: Prometheus, tmp_path: Path
) -> None:
    """Scraped counters match what the pipeline did; the approval alert fires, no failure alert."""
    stack = pipeline
    file = tmp_path / "orders.jsonl"
    file.write_text("".join(json.dumps({"text": t}) + "\n" for t in ORDERS))
    submitted = stack.qm_json("order", "submit", "--file", str(file), "--as", "s4-clerk")
    order_ids = {o["order_id"] for o in submitted}

    wait_for(
        "Prometheus to scrape the services",
        lambda: prometheus.equals('count(up{job=~"qm-.*"} == 1)', 3),
        60,
        stack.logs,
    )
    wait_for(
        "a plan with our orders",
        lambda: any(set(p["orders"]) & order_ids for p in stack.qm_json("plans", "list")),
        120,
        stack.logs,
    )
    # A fresh consumer group also reads earlier runs' orders on a shared broker, so Prometheus is
    # compared with what each service itself reports, once our two orders have made a plan.
    for service, metric, promql in [
        ("parser", "qm_parser_orders_total", "sum(qm_parser_orders_total)"),
        ("planner", "qm_planner_plans_total", "sum(qm_planner_plans_total)"),
        ("gate", "qm_gate_plans_pending", "max(qm_gate_plans_pending)"),
    ]:
        wait_for(
            f"Prometheus to show {metric} as the {service} reports it",
            partial(_agrees, prometheus, promql, stack, service, metric),
            60,
            stack.logs,
        )
    assert (prometheus.value('sum(qm_parser_orders_total{outcome="accepted"})') or 0) >= 2
    assert (prometheus.value('sum(qm_planner_plans_total{outcome="proposed"})') or 0) >= 1
    assert (prometheus.value("max(qm_gate_plans_pending)") or 0) >= 1

    wait_for(
        "QmPlansAwaitingApproval to fire",
        lambda: "QmPlansAwaitingApproval" in prometheus.firing(),
        60,
        stack.logs,
    )
    firing = prometheus.firing()
    assert not firing & {"QmServiceDown", "QmParserErrorRate", "QmDeadLetters"}, firing
    series = prometheus.value('ALERTS{alertname="QmPlansAwaitingApproval",alertstate="firing"}')
    assert series == 1
    wait_for(
        "the recording rule over accepted orders",
        lambda: prometheus.value('qm:parser_orders:rate5m{outcome="accepted"}') is not None,
        60,
        stack.logs,
    )
