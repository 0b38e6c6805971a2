"""`qm config` shows what the services would run with, secrets masked; `qm status` probes the
ports, groups and topics the services' settings name, not literals of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from schemas.topics import Topic
from services.cli import status as status_module
from services.cli.main import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A local environment whatever the shell that runs the tests holds."""
    for name in ("QM_ENVIRONMENT", "KAFKA_BOOTSTRAP", "QM_KAFKA_BOOTSTRAP", "QM_PARSER_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QM_STATE_DIR", str(tmp_path))


def _config(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["config", *args])
    return result.exit_code, result.output


def test_config_json_masks_the_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QM_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("QM_KAFKA_SASL_USERNAME", "qm-parser")
    monkeypatch.setenv("QM_KAFKA_SASL_PASSWORD", "kafka-pw-do-not-show")
    monkeypatch.setenv("QM_PARSER_OPENAI_API_KEY", "sk-do-not-show")
    code, out = _config("--json")
    assert code == 0, out
    assert "kafka-pw-do-not-show" not in out and "sk-do-not-show" not in out
    shown = json.loads(out)
    assert shown["common"]["kafka_sasl_password"] == {
        "variable": "QM_KAFKA_SASL_PASSWORD",
        "value": "**********",
        "source": "env",
    }
    assert shown["parser"]["openai_api_key"]["value"] == "**********"
    assert shown["common"]["kafka_sasl_username"]["value"] == "qm-parser"


def test_the_table_masks_the_secrets_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QM_KAFKA_SASL_USERNAME", "qm-parser")
    monkeypatch.setenv("QM_KAFKA_SASL_PASSWORD", "kafka-pw-do-not-show")
    code, out = _config()
    assert code == 0, out
    assert "kafka-pw-do-not-show" not in out and "**********" in out


def test_config_shows_every_service_with_where_each_value_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QM_PARSER_BACKEND", "rules")
    monkeypatch.setenv("QM_KAFKA_BOOTSTRAP", "broker:9092")  # the second name it answers to
    monkeypatch.setenv("QM_KAFKA_SASL_USERNAME", "qm-parser")
    monkeypatch.setenv("QM_KAFKA_SASL_PASSWORD", "pw")
    monkeypatch.delenv("QM_KAFKA_SECURITY_PROTOCOL", raising=False)
    shown = json.loads(_config("--json")[1])
    assert list(shown) == ["common", "parser", "planner", "gate"]
    assert shown["parser"]["backend"] == {
        "variable": "QM_PARSER_BACKEND",
        "value": "rules",
        "source": "env",
    }
    assert shown["common"]["kafka_bootstrap"]["value"] == "broker:9092"
    assert shown["common"]["kafka_bootstrap"]["source"] == "env QM_KAFKA_BOOTSTRAP"
    assert shown["common"]["kafka_security_protocol"]["value"] == "SASL_PLAINTEXT"
    assert shown["common"]["kafka_security_protocol"]["source"] == "derived"
    assert shown["planner"]["dedupe"] == {
        "variable": "QM_PLANNER_DEDUPE",
        "value": True,
        "source": "default",
    }
    assert "kafka_bootstrap" not in shown["gate"]  # shared settings are shown once, in common


def test_config_names_a_refused_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QM_ENVIRONMENT", "deployment")
    monkeypatch.setenv("QM_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    code, out = _config("--json")
    assert code == 1
    assert "QM_ENVIRONMENT=deployment refuses QM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in out


def test_status_probes_the_ports_groups_and_topics_of_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("QM_PARSER_METRICS_PORT", "QM_PLANNER_METRICS_PORT", "QM_PLANNER_GROUP_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QM_GATE_METRICS_PORT", "19999")
    monkeypatch.setenv("QM_PARSER_GROUP_ID", "parser-elsewhere")
    monkeypatch.setenv("QM_PROMETHEUS_PORT", "19998")
    probed: dict[str, Any] = {"ports": []}

    def metrics(port: int) -> str:
        probed["ports"].append(port)
        return f"probed :{port}"

    async def kafka(
        bootstrap: str, groups: dict[str, list[str]]
    ) -> tuple[dict[str, list[int]], dict[str, list[Any]]]:
        probed["groups"] = groups
        return {}, {}

    def prometheus(port: int) -> None:
        probed["prometheus"] = port

    monkeypatch.setattr(status_module, "_metrics", metrics)
    monkeypatch.setattr(status_module, "_kafka", kafka)
    monkeypatch.setattr(status_module, "_prometheus_url", prometheus)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert probed["ports"] == [9401, 9402, 19999]
    assert "probed :19999" in result.output
    assert probed["groups"] == {
        "parser-elsewhere": [Topic.ORDERS_SUBMITTED.value],
        "qm-planner": [Topic.ORDERS_PARSED.value],
    }
    assert probed["prometheus"] == 19998
