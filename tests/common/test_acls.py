"""The production ACL set as data (who may write decisions and releases; the doc matches it),
and Kafka client security from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from faststream.security import SASLPlaintext

from schemas.topics import Topic
from services.common.acls import (
    ADMIN,
    GATE,
    OPERATOR,
    PARSER,
    PLANNER,
    PRINCIPALS,
    Acl,
    Operation,
    PatternType,
    Permission,
    ResourceType,
    all_acls,
    allowed,
    markdown_table,
    production_acls,
    project_topics,
)
from services.common.security import SecurityConfigError, aiokafka_security_kwargs, kafka_security

DOC = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "acls.md"
ACLS = all_acls()


def writers(topic: str) -> set[str]:
    return {p for p in PRINCIPALS if allowed(ACLS, p, Operation.WRITE, topic)}


def readers(topic: str) -> set[str]:
    return {p for p in PRINCIPALS if allowed(ACLS, p, Operation.READ, topic)}


def test_one_entry_per_service_principal() -> None:
    assert set(production_acls()) == {PARSER, PLANNER, GATE, OPERATOR, ADMIN}


def test_only_the_gate_writes_releases() -> None:
    assert writers(Topic.PLANS_RELEASED.value) == {GATE}


def test_only_operators_write_decisions_and_submitted_orders() -> None:
    assert writers(Topic.PLANS_DECIDED.value) == {OPERATOR}
    assert writers(Topic.ORDERS_SUBMITTED.value) == {OPERATOR}


def test_only_the_gate_writes_the_audit_trail() -> None:
    assert writers(Topic.AUDIT_EVENTS.value) == {GATE}


@pytest.mark.parametrize("principal", [PARSER, PLANNER])
def test_parser_and_planner_are_explicitly_denied_decisions_and_releases(principal: str) -> None:
    for topic in (Topic.PLANS_DECIDED.value, Topic.PLANS_RELEASED.value):
        assert (
            Acl(
                principal,
                ResourceType.TOPIC,
                topic,
                PatternType.LITERAL,
                Operation.WRITE,
                Permission.DENY,
            )
            in ACLS
        )


def test_a_deny_wins_over_a_later_broad_allow() -> None:
    mistake = Acl(PARSER, ResourceType.TOPIC, "plans.", PatternType.PREFIXED, Operation.ALL)
    assert not allowed([*ACLS, mistake], PARSER, Operation.WRITE, Topic.PLANS_RELEASED.value)
    assert allowed([*ACLS, mistake], PARSER, Operation.WRITE, Topic.PLANS_PROPOSED.value)


def test_each_topic_has_the_writers_and_readers_the_pipeline_needs() -> None:
    assert writers(Topic.ORDERS_PARSED.value) == {PARSER}
    assert writers(Topic.ORDERS_REJECTED.value) == {PARSER}
    assert writers(Topic.PLANS_PROPOSED.value) == {PLANNER}
    assert readers(Topic.ORDERS_SUBMITTED.value) == {PARSER}
    # The parser reads its own outputs back when a signed safety review arrives.
    assert readers(Topic.ORDERS_PARSED.value) == {PLANNER, PARSER}
    assert readers(Topic.PLANS_DECIDED.value) == {GATE, OPERATOR}
    assert readers(Topic.PLANS_RELEASED.value) == {GATE, OPERATOR}
    # Only people (the operator principal) write safety reviews; the parser may only read them.
    assert writers(Topic.ORDERS_REVIEWED.value) == {OPERATOR}
    assert readers(Topic.ORDERS_REVIEWED.value) == {PARSER, OPERATOR}


def test_every_consumed_topic_can_be_dead_lettered_by_its_consumer() -> None:
    consumers = {
        Topic.ORDERS_SUBMITTED: PARSER,
        Topic.ORDERS_PARSED: PLANNER,
        Topic.ORDERS_REVIEWED: PARSER,
        Topic.PLANS_PROPOSED: GATE,
        Topic.PLANS_DECIDED: GATE,
        Topic.PLANS_RELEASED: GATE,
    }
    for topic, consumer in consumers.items():
        assert writers(topic.dlq) == {consumer}


def test_every_principal_can_see_every_project_topic_and_nothing_is_wildcarded() -> None:
    for principal in PRINCIPALS:
        for topic in project_topics():
            assert allowed(ACLS, principal, Operation.DESCRIBE, topic)
    assert all(a.pattern is PatternType.LITERAL and a.name not in ("*", "") for a in ACLS)
    assert all(a.operation is not Operation.ALL and a.host == "*" for a in ACLS)


def test_no_service_principal_can_change_acls_or_use_transactions() -> None:
    for acl in ACLS:
        assert acl.resource_type is not ResourceType.TRANSACTIONAL_ID
        if acl.resource_type is ResourceType.CLUSTER:
            assert acl.principal == ADMIN
            assert acl.operation in (Operation.DESCRIBE, Operation.DESCRIBE_CONFIGS)


def test_the_admin_principal_reads_and_writes_no_records() -> None:
    for topic in project_topics():
        assert not allowed(ACLS, ADMIN, Operation.READ, topic)
        assert not allowed(ACLS, ADMIN, Operation.WRITE, topic)


def test_custom_consumer_groups_are_granted() -> None:
    acls = production_acls(parser_group="p2", planner_group="pl2")
    groups = {
        (a.principal, a.name, a.operation)
        for a in all_acls(acls)
        if a.resource_type is ResourceType.GROUP
    }
    assert (PARSER, "p2", Operation.READ) in groups
    assert (PLANNER, "pl2", Operation.READ) in groups
    assert (OPERATOR, "p2", Operation.DESCRIBE) in groups


def test_the_documented_table_is_the_data() -> None:
    assert markdown_table() in DOC.read_text(), (
        "deploy/kafka/acls.md is out of date; paste services.common.acls.markdown_table() into it"
    )


def test_security_from_env_plaintext_by_default() -> None:
    assert kafka_security({}) is None


def test_security_from_env_sasl_plaintext() -> None:
    env = {"QM_KAFKA_SASL_USERNAME": "qm-gate", "QM_KAFKA_SASL_PASSWORD": "pw"}
    security = kafka_security(env)
    assert isinstance(security, SASLPlaintext)
    assert (security.username, security.password, security.use_ssl) == ("qm-gate", "pw", False)
    assert aiokafka_security_kwargs(security) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "qm-gate",
        "sasl_plain_password": "pw",
    }
    assert aiokafka_security_kwargs(None) == {}


def test_security_from_env_sasl_ssl() -> None:
    env = {
        "QM_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "QM_KAFKA_SASL_USERNAME": "qm-gate",
        "QM_KAFKA_SASL_PASSWORD": "pw",
    }
    kwargs = aiokafka_security_kwargs(kafka_security(env))
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["ssl_context"] is not None


@pytest.mark.parametrize(
    "env",
    [
        {"QM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
        {"QM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "QM_KAFKA_SASL_USERNAME": "qm-gate"},
        {"QM_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "QM_KAFKA_SASL_USERNAME": "qm-gate"},
        {"QM_KAFKA_SECURITY_PROTOCOL": "SSL"},
    ],
)
def test_security_from_env_refuses_incomplete_or_unknown_settings(env: dict[str, str]) -> None:
    with pytest.raises(SecurityConfigError):
        kafka_security(env)
