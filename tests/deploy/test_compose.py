"""compose.yaml, checked structurally (no Docker engine here): services, health, restarts, env."""

from __future__ import annotations

import re
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


def qm_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every service running the project's image (the Kafka clients)."""
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image") == "quartermaster:dev"
    }


def test_kafka_authenticates_every_client_and_enforces_acls(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]["environment"]
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    for service in ("parser", "planner", "gate"):
        env = compose["services"][service]["environment"]
        assert env["QM_KAFKA_SASL_USERNAME"] == f"qm-{service}"
        assert (
            f'user_qm-{service}="' in kafka["KAFKA_LISTENER_NAME_INTERNAL_PLAIN_SASL_JAAS_CONFIG"]
        )


def test_every_kafka_listener_but_the_controller_is_sasl_ssl(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]["environment"]
    protocols = dict(
        entry.split(":") for entry in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert protocols.pop("CONTROLLER") == "PLAINTEXT"  # inside the container only: not advertised
    assert protocols and set(protocols.values()) == {"SASL_SSL"}
    advertised = [a.split("://")[0] for a in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")]
    assert set(advertised) == set(protocols)
    assert kafka["KAFKA_INTER_BROKER_LISTENER_NAME"] in protocols
    assert kafka["KAFKA_SSL_KEYSTORE_LOCATION"].startswith("/etc/kafka/secrets/")
    health = " ".join(compose["services"]["kafka"]["healthcheck"]["test"])
    assert "security.protocol=SASL_SSL" in health and "ssl.truststore.location=" in health


def test_every_qm_service_speaks_sasl_ssl_and_trusts_the_mounted_ca(
    compose: dict[str, Any],
) -> None:
    services = qm_services(compose)
    assert {"topics", "parser", "planner", "gate", "qm"} <= set(services)
    for name, service in services.items():
        env = service["environment"]
        assert env["QM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        cafile = env["QM_KAFKA_SSL_CAFILE"]
        mounts = {v.split(":")[1]: v for v in service["volumes"]}
        ca_dir = str(Path(cafile).parent)
        assert ca_dir in mounts, f"{name} does not mount {ca_dir}"
        assert mounts[ca_dir] == f"kafka-ca:{ca_dir}:ro", name


def test_the_certs_service_makes_the_ca_before_the_broker_starts(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    certs = services["certs"]
    assert certs["restart"] == "on-failure"  # one-shot
    assert "./deploy/kafka/certs.sh:/opt/qm/certs.sh:ro" in certs["volumes"]
    assert certs["entrypoint"][:3] == ["sh", "/opt/qm/certs.sh", "/etc/kafka/secrets"]
    assert "kafka" in certs["entrypoint"][3:]  # the SAN the clients connect to
    assert services["kafka"]["depends_on"]["certs"]["condition"] == (
        "service_completed_successfully"
    )
    assert "kafka-tls:/etc/kafka/secrets:ro" in services["kafka"]["volumes"]
    # The broker's key store is for the broker: no qm service mounts it.
    for name, service in qm_services(compose).items():
        assert not any(v.startswith("kafka-tls:") for v in service.get("volumes", [])), name
    assert {"kafka-tls", "kafka-ca"} <= set(compose["volumes"])


def test_no_password_has_a_default(compose: dict[str, Any]) -> None:
    """Every password is a required variable (`${NAME:?...}`, from .env), never `${NAME:-dev}`."""
    text = (REPO / "compose.yaml").read_text()
    references = re.findall(r"\$\{([A-Z0-9_]+)([^}]*)\}", text)
    passwords = [(name, rest) for name, rest in references if "PASSWORD" in name]
    assert len(passwords) >= 10
    for name, rest in passwords:
        assert rest.startswith(":?"), f"${{{name}{rest}}} gives {name} a default or none at all"
    assert not re.search(r"\$\{[A-Z0-9_]*(PASSWORD|SECRET|TOKEN)[A-Z0-9_]*:?-", text)
    # And no literal dev password anywhere.
    assert "-dev}" not in text and '-dev"' not in text and "change-me" not in text


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
