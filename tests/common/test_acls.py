"""The production ACL set as data (who may write decisions and releases; the doc matches it),
and Kafka client security from the environment."""

from __future__ import annotations

import ssl
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
    PROTECTED_OPERATIONS,
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
    protected_topics,
)
from services.common.security import (
    SecurityConfigError,
    aiokafka_security_kwargs,
    kafka_security,
    tls_context,
)

DOC = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "acls.md"
# A self-signed CA certificate (no key kept): what QM_KAFKA_SSL_CAFILE points at.
TEST_CA_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBgTCCASegAwIBAgIUTqjUQ5Gk/5nqnlQWrzaDglHiYdswCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKcW0gdGVzdCBDQTAgFw0yNjEyMDQyMTI1MDJaGA8yMTI2MTEx
MDIxMjUwMlowFTETMBEGA1UEAwwKcW0gdGVzdCBDQTBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABOkuuF4aKtKFUFW3+EuVN2pTqhOniwRAMpcF+jwXOUwaJFXfaeUM
kRsYqiUEMmBC/p2DmmUnaAqVwybR8W4XGOqjUzBRMB0GA1UdDgQWBBT+CNJraqN6
6iQ3INzp2d9CXQIeGTAfBgNVHSMEGDAWgBT+CNJraqN66iQ3INzp2d9CXQIeGTAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIE5hHSvixGOIQcNpajg/
4FosJpX66u7VeiTpMGA18soKAiEA7cSosVIo4vEpQloOAem57HsEEvqVq5Jz0LXg
Ql0PCns=
-----END CERTIFICATE-----
"""
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
    # The planner reads releases and the gate's outcomes to re-plan (locks, rejections).
    assert readers(Topic.PLANS_RELEASED.value) == {GATE, OPERATOR, PLANNER}
    assert readers(Topic.AUDIT_EVENTS.value) == {GATE, OPERATOR, PLANNER}
    assert readers(Topic.FLEET_REPORTED.value) == readers(Topic.ZONES_DECLARED.value)
    # The gate reads the theater too: it frees stranded releases and re-checks closed areas.
    assert readers(Topic.ZONES_DECLARED.value) == {GATE, PLANNER, OPERATOR}
    assert writers(Topic.ZONES_DECLARED.value) == writers(Topic.FLEET_REPORTED.value)
    assert writers(Topic.FLEET_REPORTED.value) == {OPERATOR}
    assert writers(Topic.PLANS_DISRUPTED.value) == {PLANNER}
    # Only people (the operator principal) write safety reviews; the parser may only read them.
    assert writers(Topic.ORDERS_REVIEWED.value) == {OPERATOR}
    assert readers(Topic.ORDERS_REVIEWED.value) == {PARSER, OPERATOR}


def test_every_consumed_topic_can_be_dead_lettered_by_its_consumer() -> None:
    consumers = {
        Topic.ORDERS_SUBMITTED: PARSER,
        Topic.ORDERS_PARSED: PLANNER,
        Topic.FLEET_REPORTED: PLANNER,
        Topic.ZONES_DECLARED: PLANNER,
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


def test_the_protected_topics_are_the_signed_decisions_releases_and_audit_history() -> None:
    assert set(protected_topics()) == {
        Topic.PLANS_DECIDED.value,
        Topic.ORDERS_REVIEWED.value,
        Topic.PLANS_RELEASED.value,
        Topic.AUDIT_EVENTS.value,
    }
    assert set(PROTECTED_OPERATIONS) >= {Operation.ALTER_CONFIGS, Operation.DELETE}


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_no_principal_can_change_retention_of_or_delete_the_history(principal: str) -> None:
    for topic in protected_topics():
        for op in (Operation.ALTER_CONFIGS, Operation.DELETE, Operation.ALTER):
            assert not allowed(ACLS, principal, op, topic), (principal, op.name, topic)
            # Explicitly denied, not merely not granted: a later ALLOW cannot undo it.
            deny = Acl(
                principal, ResourceType.TOPIC, topic, PatternType.LITERAL, op, Permission.DENY
            )
            assert deny in ACLS


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_a_later_broad_allow_does_not_reopen_the_history(principal: str) -> None:
    mistakes = [
        Acl(principal, ResourceType.TOPIC, "", PatternType.PREFIXED, Operation.ALL),
        Acl(principal, ResourceType.TOPIC, "audit.", PatternType.PREFIXED, Operation.ALTER_CONFIGS),
        Acl(
            principal,
            ResourceType.TOPIC,
            "plans.released.v1",
            PatternType.LITERAL,
            Operation.DELETE,
        ),
    ]
    for topic in protected_topics():
        for op in (Operation.ALTER_CONFIGS, Operation.DELETE):
            assert not allowed([*ACLS, *mistakes], principal, op, topic)


def test_the_admin_principal_still_creates_topics_and_tunes_the_others() -> None:
    for topic in project_topics():
        assert allowed(ACLS, ADMIN, Operation.CREATE, topic)
        assert allowed(ACLS, ADMIN, Operation.DESCRIBE_CONFIGS, topic)  # retention checks
        expected = topic not in protected_topics()
        assert allowed(ACLS, ADMIN, Operation.ALTER_CONFIGS, topic) is expected, topic
    others = set(PRINCIPALS) - {ADMIN}
    for principal in others:
        assert not any(allowed(ACLS, principal, Operation.CREATE, t) for t in project_topics())


def test_the_table_shows_the_history_protection() -> None:
    row = next(line for line in markdown_table().splitlines() if line.startswith(f"| `{GATE}`"))
    assert row.endswith(
        "| DELETE, ALTER, ALTER_CONFIGS on `orders.reviewed.v1`, `plans.decided.v1`, "
        "`plans.released.v1`, `audit.events.v1` |"
    )


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


SASL_SSL = {
    "QM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "QM_KAFKA_SASL_USERNAME": "qm-gate",
    "QM_KAFKA_SASL_PASSWORD": "pw",
}


def test_sasl_ssl_verifies_the_broker_with_the_system_trust_by_default() -> None:
    context = tls_context(SASL_SSL)
    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert tls_context({}) is None
    assert tls_context({**SASL_SSL, "QM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}) is None


def test_sasl_ssl_trusts_the_ca_file(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(TEST_CA_PEM)
    security = kafka_security({**SASL_SSL, "QM_KAFKA_SSL_CAFILE": str(ca)})
    assert isinstance(security, SASLPlaintext) and security.use_ssl
    context = aiokafka_security_kwargs(security)["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    subjects = [dict(x[0] for x in c["subject"]) for c in context.get_ca_certs()]
    assert subjects == [{"commonName": "qm test CA"}]  # only that CA, no system roots
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "is not a file"), ("not a certificate\n", "no usable PEM CA certificate")],
)
def test_a_missing_or_unusable_ca_file_is_refused_with_what_to_do(
    tmp_path: Path, content: str | None, message: str
) -> None:
    ca = tmp_path / "ca.pem"
    if content is not None:
        ca.write_text(content)
    with pytest.raises(SecurityConfigError, match=message) as err:
        kafka_security({**SASL_SSL, "QM_KAFKA_SSL_CAFILE": str(ca)})
    assert "QM_KAFKA_SSL_CAFILE" in str(err.value)


def test_a_ca_file_without_tls_is_refused() -> None:
    env = {**SASL_SSL, "QM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}
    with pytest.raises(SecurityConfigError, match="does not use TLS"):
        kafka_security({**env, "QM_KAFKA_SSL_CAFILE": "/etc/qm/kafka/ca.pem"})


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
