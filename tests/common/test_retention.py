"""Topic retention as data: the release and audit history is created to be kept forever, and an
existing topic that would expire is reported (never silently altered)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from schemas.topics import COMPACTED, KEPT_FOREVER, Topic
from services.common.kafka import (
    all_topics,
    config_values,
    kept_forever_topics,
    retention_drift,
    topic_config,
)

FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


def test_the_release_and_audit_topics_are_kept_forever_and_nothing_else_is_changed() -> None:
    assert set(kept_forever_topics()) == {
        "plans.decided.v1",
        "orders.reviewed.v1",
        "plans.released.v1",
        "audit.events.v1",
    }
    assert KEPT_FOREVER == {"retention.ms": "-1", "retention.bytes": "-1"}
    state = {Topic.FLEET_REPORTED.value, Topic.ZONES_DECLARED.value}
    for name in all_topics():
        expected = KEPT_FOREVER if name in kept_forever_topics() else {}
        expected = COMPACTED if name in state else expected
        assert topic_config(name) == expected, name
    # Dead-letter topics of the history are not history themselves.
    assert topic_config(Topic.PLANS_RELEASED.dlq) == {}
    # Compaction would break the audit hash chain: only the two state topics ask for it.
    compacted = {name for name in all_topics() if "cleanup.policy" in topic_config(name)}
    assert compacted == state
    assert COMPACTED == {"cleanup.policy": "compact"}


def test_topic_config_is_a_copy() -> None:
    topic_config("audit.events.v1")["retention.ms"] = "1"
    assert topic_config("audit.events.v1")["retention.ms"] == "-1"


def test_no_drift_when_the_history_is_kept_forever_or_not_created_yet() -> None:
    configs = {"plans.released.v1": FOREVER, "audit.events.v1": FOREVER}
    assert retention_drift(configs) == []
    assert retention_drift({}) == []


def test_a_finite_retention_is_reported_with_the_fix() -> None:
    configs = {
        "plans.released.v1": {**FOREVER, "retention.ms": "604800000"},
        "audit.events.v1": {**FOREVER, "retention.bytes": "1073741824"},
        "orders.submitted.v1": {"retention.ms": "1000"},  # not history: not reported
    }
    drifts = retention_drift(configs)
    assert [(d.topic, d.found) for d in drifts] == [
        ("plans.released.v1", {"retention.ms": "604800000"}),
        ("audit.events.v1", {"retention.bytes": "1073741824"}),
    ]
    warning = drifts[0].warning("kafka:9092")
    assert warning.startswith("topic plans.released.v1 already exists with retention.ms=604800000")
    assert "left unchanged" in warning and "super user" in warning
    assert "--bootstrap-server kafka:9092" in warning
    assert warning.endswith(
        "--entity-name plans.released.v1 --add-config retention.bytes=-1,retention.ms=-1"
    )


def test_a_missing_setting_counts_as_drift() -> None:
    [drift] = retention_drift({"audit.events.v1": {"retention.bytes": "-1"}})
    assert drift.found == {"retention.ms": "<unset>"}


def _response(*resources: tuple[object, ...]) -> SimpleNamespace:
    return SimpleNamespace(resources=list(resources))


def test_config_values_reads_describe_configs_responses() -> None:
    entries = [("retention.ms", "-1", False, 1, False, []), ("retention.bytes", "-1", False, 5)]
    response = _response((0, "", 2, "audit.events.v1", entries))
    assert config_values([response]) == {
        "audit.events.v1": {"retention.ms": "-1", "retention.bytes": "-1"}
    }


def test_config_values_raises_the_brokers_refusal() -> None:
    response = _response((29, "Topic authorization failed.", 2, "plans.released.v1", []))
    with pytest.raises(TopicAuthorizationFailedError, match=r"plans\.released\.v1"):
        config_values([response])
