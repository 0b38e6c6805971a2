"""The AsyncAPI documents in schemas/json/asyncapi/ are what the three service apps produce now."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lab import asyncapi as export
from schemas import export as schema_export
from schemas.topics import CONTRACTS, Topic

# What each service consumes, as its handlers subscribe (services/<service>/handlers.py).
CONSUMES = {
    "parser": {Topic.ORDERS_SUBMITTED, Topic.ORDERS_REVIEWED},
    "planner": {
        Topic.ORDERS_PARSED,
        Topic.AUDIT_EVENTS,
        Topic.FLEET_REPORTED,
        Topic.ZONES_DECLARED,
    },
    "gate": {
        Topic.PLANS_PROPOSED,
        Topic.PLANS_DECIDED,
        Topic.PLANS_RELEASED,
        Topic.FLEET_REPORTED,
        Topic.ZONES_DECLARED,
    },
}
# What each service's router declares it publishes.
PUBLISHES = {
    "parser": {Topic.ORDERS_PARSED, Topic.ORDERS_REJECTED},
    "planner": {Topic.PLANS_PROPOSED, Topic.PLANS_DISRUPTED},
    "gate": {Topic.PLANS_RELEASED, Topic.AUDIT_EVENTS},
}
# Subscribers that read raw records, whose payload FastStream cannot know.
RAW = {Topic.ORDERS_SUBMITTED, Topic.FLEET_REPORTED, Topic.ZONES_DECLARED}


@pytest.fixture(scope="module")
def fresh() -> dict[str, str]:
    return export.asyncapi_rendered()


def _document(fresh: dict[str, str], service: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fresh[f"asyncapi/{service}.json"])
    return loaded


def test_the_exported_documents_equal_a_fresh_export(fresh: dict[str, str]) -> None:
    exported = {
        f"asyncapi/{path.name}": path.read_text()
        for path in (schema_export.OUT_DIR / "asyncapi").glob("*.json")
    }
    assert exported == fresh, "run `make schemas` and commit schemas/json/asyncapi"


def test_one_document_per_service_with_its_channels_and_operations(
    fresh: dict[str, str],
) -> None:
    assert set(fresh) == {f"asyncapi/{service}.json" for service in CONSUMES}
    for service, topics in CONSUMES.items():
        document = _document(fresh, service)
        assert document["asyncapi"] == "3.0.0"
        assert document["info"]["title"] == f"Quartermaster {service}"
        channels = document["channels"]
        operations = document["operations"].values()
        by_action: dict[str, set[Topic]] = {"receive": set(), "send": set()}
        for operation in operations:
            channel = channels[operation["channel"]["$ref"].rsplit("/", 1)[-1]]
            by_action[operation["action"]].add(Topic(channel["address"]))
        assert by_action == {"receive": topics, "send": PUBLISHES[service]}


def test_typed_payloads_are_the_contracts_and_raw_ones_are_explained(
    fresh: dict[str, str],
) -> None:
    for service in CONSUMES:
        document = _document(fresh, service)
        assert "EmptyPayload" in document["info"]["description"]
        schemas = document["components"].get("schemas", {})
        for channel in document["channels"].values():
            topic = Topic(channel["address"])
            for ref in channel["messages"].values():
                name = ref["$ref"].rsplit("/", 1)[-1]
                message = document["components"]["messages"][name]
                contract = message["x-contract"]
                assert contract["model"] == CONTRACTS[topic].__name__
                assert (schema_export.OUT_DIR / "asyncapi" / contract["schema"]).resolve() == (
                    schema_export.OUT_DIR / f"{topic.value}.schema.json"
                ).resolve()
                payload = message["payload"]["$ref"].rsplit("/", 1)[-1]
                received = name.endswith("SubscribeMessage")
                if received and topic in RAW:
                    assert payload == "EmptyPayload"
                else:
                    assert payload == CONTRACTS[topic].__name__, (service, name)
                    assert schemas[payload]["title"] == CONTRACTS[topic].__name__


def test_the_export_ignores_this_machines_kafka_settings(
    fresh: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "broker.elsewhere:9093")
    monkeypatch.setenv("QM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    assert export.asyncapi_rendered() == fresh
    assert export.os.environ["KAFKA_BOOTSTRAP"] == "broker.elsewhere:9093"  # restored


def test_check_reports_a_stale_or_missing_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "json"
    shutil.copytree(schema_export.OUT_DIR, copy)
    monkeypatch.setattr(schema_export, "OUT_DIR", copy)
    assert export.main(["--check"]) == 0
    gate = copy / "asyncapi" / "gate.json"
    gate.write_text(gate.read_text().replace("plans.decided.v1", "plans.decided.v2"))
    (copy / "asyncapi" / "parser.json").unlink()
    assert export.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "schemas/json/asyncapi/gate.json is out of date" in err
    assert "schemas/json/asyncapi/parser.json is out of date" in err
    assert export.main([]) == 0
    assert export.main(["--check"]) == 0


def test_faststream_docs_serve_reads_the_documents_and_keeps_the_contracts() -> None:
    """`faststream docs serve schemas/json/asyncapi/<service>.json` parses a file this way."""
    from faststream._internal._compat import model_parse
    from faststream.specification.asyncapi.v3_0_0.schema import ApplicationSchema

    for service, topics in CONSUMES.items():
        raw = (schema_export.OUT_DIR / "asyncapi" / f"{service}.json").read_bytes()
        parsed = json.loads(model_parse(ApplicationSchema, raw).to_json())
        addresses = {Topic(c["address"]) for c in parsed["channels"].values()}
        assert addresses == topics | PUBLISHES[service]
        contracts = {m["x-contract"]["model"] for m in parsed["components"]["messages"].values()}
        assert contracts == {CONTRACTS[t].__name__ for t in topics | PUBLISHES[service]}
