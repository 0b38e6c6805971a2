"""compose.yaml, checked structurally (no Docker engine here): services, health, restarts, env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from services.gate.settings import GateSettings
from services.parser.settings import ParserSettings
from services.planner.settings import PlannerSettings

REPO = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[BaseSettings]] = {
    "parser": ParserSettings,
    "planner": PlannerSettings,
    "gate": GateSettings,
}
LONG_RUNNING = ["kafka", "llm", "parser", "planner", "gate", "prometheus", "grafana"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def env_names(settings: type[BaseSettings]) -> set[str]:
    """Every environment variable a Settings class reads, upper-cased."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def test_env_names_follow_prefix_and_aliases() -> None:
    """The mapping itself: a prefixed own field, and an aliased common field."""
    names = env_names(ParserSettings)
    assert {"QM_PARSER_BACKEND", "QM_PARSER_GROUP_ID", "KAFKA_BOOTSTRAP", "QM_PARTITIONS"} <= names
    assert "QM_PARSER_PLAN_WAIT_S" not in names


def test_every_part_of_the_system_is_a_service(compose: dict[str, Any]) -> None:
    """Kafka, topic init, LLM server, the three services, Prometheus and Grafana."""
    assert set(LONG_RUNNING) | {"topics"} <= set(compose["services"])
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert compose["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert compose["services"]["topics"]["command"] == [
        "sh",
        "-c",
        "qm topics create && qm acls apply",
    ]


def test_kafka_authenticates_every_client_and_enforces_acls(compose):
    kafka = compose["services"]["kafka"]["environment"]
    assert "PLAINTEXT" not in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].replace(
        "CONTROLLER:PLAINTEXT", ""
    ).replace("SASL_PLAINTEXT", "")
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    for service in ("parser", "planner", "gate"):
        env = compose["services"][service]["environment"]
        assert env["QM_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["QM_KAFKA_SASL_USERNAME"] == f"qm-{service}"
        assert (
            f'user_qm-{service}="' in kafka["KAFKA_LISTENER_NAME_INTERNAL_PLAIN_SASL_JAAS_CONFIG"]
        )


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_a_healthcheck_and_restart(
    compose: dict[str, Any], name: str
) -> None:
    """Compose restarts a crashed service and knows when it is ready."""
    service = compose["services"][name]
    assert service["restart"] in {"unless-stopped", "always", "on-failure"}
    test = service["healthcheck"]["test"]
    assert test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1


def test_topic_init_runs_once_and_everything_waits_for_it(compose: dict[str, Any]) -> None:
    """The services start only after the broker is healthy and the topics exist."""
    services = compose["services"]
    assert services["topics"]["restart"] == "on-failure"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in SETTINGS:
        depends = services[name]["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy"
        assert depends["topics"]["condition"] == "service_completed_successfully"


def test_parser_scales_out_and_uses_the_local_llm_server(compose: dict[str, Any]) -> None:
    """Several parser replicas share one consumer group and read from the LLM service."""
    parser = compose["services"]["parser"]
    assert parser["deploy"]["replicas"] >= 2
    assert "container_name" not in parser, "a fixed container name prevents replicas"
    env = parser["environment"]
    assert env["QM_PARSER_BACKEND"] == "openai"
    assert env["QM_PARSER_OPENAI_URL"].startswith("http://llm:")
    assert parser["depends_on"]["llm"]["condition"] == "service_healthy"
    assert any(v.endswith(":/models:ro") for v in compose["services"]["llm"]["volumes"])
    assert compose["services"]["gate"]["deploy"]["replicas"] == 1


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_service_environment_matches_its_settings(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every QM_* / KAFKA_* variable set on a service is a field its Settings class reads."""
    env = compose["services"][name]["environment"]
    known = env_names(SETTINGS[name])
    unknown = sorted(k for k in env if k.startswith(("QM_", "KAFKA_")) and k.upper() not in known)
    assert not unknown, f"{name} sets {unknown}, which {SETTINGS[name].__name__} does not read"
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    settings = SETTINGS[name]()  # the values parse, and reach the fields
    assert settings.kafka_bootstrap == env["KAFKA_BOOTSTRAP"]  # type: ignore[attr-defined]
    assert settings.metrics_port == int(env[f"QM_{name.upper()}_METRICS_PORT"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_metrics_port_matches_healthcheck_and_prometheus(
    compose: dict[str, Any], name: str
) -> None:
    """Prometheus (deploy/prometheus/compose.yml) scrapes the port the service serves."""
    service = compose["services"][name]
    port = service["environment"][f"QM_{name.upper()}_METRICS_PORT"]
    assert f":{port}/metrics" in " ".join(service["healthcheck"]["test"])
    scrape = (REPO / "deploy" / "prometheus" / "compose.yml").read_text()
    static, by_dns = f"{name}:{port}" in scrape, f"names: [{name}]" in scrape
    assert static or (by_dns and f"port: {port}" in scrape)


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    """Every repo file compose mounts into a container is there."""
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{source} is mounted but missing"


def test_dockerfile_caches_dependencies_before_source() -> None:
    """pyproject.toml is copied and installed before the source, so code edits reuse the layer."""
    lines = (REPO / "deploy" / "Dockerfile").read_text().splitlines()
    assert lines[lines.index("FROM base AS app") + 1 :][0] == "WORKDIR /app"
    copy_pyproject = lines.index("COPY pyproject.toml ./")
    install_deps = next(i for i, line in enumerate(lines) if "pip install -r" in line)
    copy_source = lines.index("COPY services ./services")
    assert copy_pyproject < install_deps < copy_source
    assert any(line.startswith("FROM python:3.11-slim") for line in lines)
