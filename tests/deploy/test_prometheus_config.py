"""promtool checks scrape configs and rules, runs the rules' unit tests, parses the dashboard."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "deploy" / "prometheus"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboard.json"


def promtool(*args: str, cwd: Path = PROM) -> str:
    """Run promtool; fail the test with its output when it reports a problem."""
    if shutil.which("promtool") is None:
        pytest.fail("promtool not found on PATH; run `make setup` (installs Debian's prometheus)")
    result = subprocess.run(
        ["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


@pytest.mark.parametrize("config", ["prometheus.yml", "compose.yml"])
def test_scrape_config_is_valid(config: str) -> None:
    """Both scrape configs (local run, compose) load, rule files included."""
    assert "SUCCESS" in promtool("check", "config", config)


def test_rules_are_valid() -> None:
    """Every recording and alerting rule parses."""
    assert "SUCCESS" in promtool("check", "rules", "rules.yml")


def test_rules_unit_tests_pass() -> None:
    """The alerts fire on the series they are meant for, and not on healthy ones."""
    assert "SUCCESS" in promtool("test", "rules", "rules_test.yml")


def _alerts() -> set[str]:
    groups = yaml.safe_load((PROM / "rules.yml").read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_the_alerts_the_issue_asks_for_exist() -> None:
    """No orders flowing, parser errors, LLM latency, oldest plan, refusals, lag, dead letters."""
    assert {
        "QmNoOrdersFlowing",
        "QmParserErrorRate",
        "QmParserLlmSlow",
        "QmOldestPendingPlan",
        "QmGateRefusals",
        "QmGateRefusedForgery",
        "QmConsumerLagHigh",
        "QmDeadLetters",
    } <= _alerts()


def _panel_exprs() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_queries_parse_and_use_only_known_series(tmp_path: Path) -> None:
    """Each panel's PromQL parses (promtool) and names a metric or recording rule that exists."""
    exprs = _panel_exprs()
    assert len(exprs) >= 20
    recording = [{"record": f"dashboard:panel{i}", "expr": e} for i, e in enumerate(exprs)]
    rules = {"groups": [{"name": "dashboard", "rules": recording}]}
    (tmp_path / "dashboard_rules.yml").write_text(yaml.safe_dump(rules))
    promtool("check", "rules", "dashboard_rules.yml", cwd=tmp_path)

    groups = yaml.safe_load((PROM / "rules.yml").read_text())["groups"]
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    names = set(re.findall(r"\b(qm[:_][a-z0-9_:]+|up|ALERTS)\b", " ".join(exprs)))
    unknown = {n for n in names if ":" in n and n not in recorded}
    assert not unknown, f"dashboard uses recording rules that rules.yml lacks: {unknown}"
