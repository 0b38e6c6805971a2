"""One registry per app: two apps in one process never add to each other's counts."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry

from services.common.metrics import app_registry
from services.gate.app import build_app as build_gate
from services.gate.settings import GateSettings
from services.parser.app import build_app as build_parser
from services.parser.settings import ParserSettings


def test_each_app_counts_on_its_own_registry(tmp_path: Path) -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    _, one = build_gate(GateSettings(state_dir=tmp_path), first, live=False)
    _, other = build_gate(GateSettings(state_dir=tmp_path), second, live=False)
    one.metrics.releases.inc()
    assert first.get_sample_value("qm_gate_releases_total") == 1
    assert second.get_sample_value("qm_gate_releases_total") == 0
    assert other.metrics.releases is not one.metrics.releases
    assert REGISTRY.get_sample_value("qm_gate_releases_total") is None  # nothing global


def test_an_app_built_without_a_registry_gets_a_fresh_one() -> None:
    _, a = build_parser(ParserSettings(), None, live=False)
    _, b = build_parser(ParserSettings(), None, live=False)
    a.metrics.orders.labels(outcome="accepted", reason="ok").inc()
    [[sample, *_]] = [m.samples for m in a.metrics.orders.collect()]
    assert sample.value == 1
    assert [s for m in b.metrics.orders.collect() for s in m.samples] == []


def test_a_service_process_registry_carries_the_process_metrics_too() -> None:
    names = {metric.name for metric in app_registry().collect()}
    assert "process_cpu_seconds" in names or "python_info" in names
    assert "python_info" in names
