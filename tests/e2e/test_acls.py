"""Kafka authorisation on a real broker: SASL/PLAIN principals over TLS confined by the production
ACL set, and the release and audit history out of every principal's reach.

The module starts its own SASL_SSL broker (`QM_KAFKA_SASL=1 deploy/kafka/kafka.sh start`, which
makes its CA and certificate on first start) on free ports with a temporary state dir, so it never
touches the plaintext test broker, and stops it at the end. Every client verifies the broker against
that CA. Producers connect the way the services will: FastStream's KafkaBroker with the security
object from services.common.security, idempotent and acks=all like make_broker.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.admin.records_to_delete import RecordsToDelete
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaConnectionError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    for_code,
)
from faststream.kafka import KafkaBroker

from services.common.acls import (
    ADMIN,
    GATE,
    OPERATOR,
    PARSER,
    PLANNER,
    PRINCIPALS,
    all_acls,
    apply_acls,
    describe_acls,
    project_topics,
    protected_topics,
)
from services.common.kafka import config_values, topic_config
from services.common.security import aiokafka_security_kwargs, kafka_security, tls_context

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
SUPER_USER = "admin"


@dataclass(frozen=True)
class SaslBroker:
    """The SASL broker this module started, with every user's password."""

    bootstrap: str
    passwords: dict[str, str]
    server_log: Path
    cafile: Path

    def env(self, user: str, password: str | None = None) -> dict[str, str]:
        """The environment a service running as `user` would get."""
        return {
            "QM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "QM_KAFKA_SSL_CAFILE": str(self.cafile),
            "QM_KAFKA_SASL_USERNAME": user,
            "QM_KAFKA_SASL_PASSWORD": self.passwords[user] if password is None else password,
        }

    def kwargs(self, user: str) -> dict[str, object]:
        """aiokafka client arguments for `user`."""
        return aiokafka_security_kwargs(kafka_security(self.env(user)))

    def admin_kwargs(self) -> dict[str, object]:
        """aiokafka client arguments for the super user."""
        return self.kwargs(SUPER_USER)

    def ssl_context(self) -> ssl.SSLContext:
        """The verifying TLS context for this broker's CA."""
        context = tls_context(self.env(SUPER_USER))
        assert context is not None
        return context


def _two_free_ports() -> tuple[int, int]:
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        return int(a.getsockname()[1]), int(b.getsockname()[1])


def _kafka_sh(command: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(KAFKA_SH), command], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"kafka.sh {command} failed:\n{result.stdout}\n{result.stderr}")


async def _create_topics_and_acls(broker: SaslBroker) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, **broker.admin_kwargs())
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(t, 1, 1, topic_configs=topic_config(t)) for t in project_topics()]
        )
    finally:
        await admin.close()
    await apply_acls(
        broker.bootstrap,
        SUPER_USER,
        broker.passwords[SUPER_USER],
        ssl_context=broker.ssl_context(),
    )


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslBroker]:
    """A fresh SASL + ACL broker with the project's topics and the production ACL set."""
    state = tmp_path_factory.mktemp("kafka-sasl")
    port, controller_port = _two_free_ports()
    passwords = {user: secrets.token_urlsafe(12) for user in (SUPER_USER, *PRINCIPALS)}
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP"}
    env |= {
        "QM_KAFKA_SASL": "1",
        "QM_KAFKA_PORT": str(port),
        "QM_KAFKA_CONTROLLER_PORT": str(controller_port),
        "QM_KAFKA_STATE_DIR": str(state),
        "QM_KAFKA_HEAP": "256m",
        "QM_KAFKA_SASL_USERS": " ".join(f"{u}={p}" for u, p in passwords.items()),
    }
    _kafka_sh("start", env)
    try:
        broker = SaslBroker(
            f"127.0.0.1:{port}", passwords, state / "logs" / "server.log", state / "tls" / "ca.pem"
        )
        asyncio.run(_create_topics_and_acls(broker))
        yield broker
    finally:
        _kafka_sh("stop", env)


async def _end_offset(broker: SaslBroker, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, **broker.admin_kwargs())
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


async def _read_at(broker: SaslBroker, topic: str, offset: int) -> bytes | None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap, enable_auto_commit=False, **broker.admin_kwargs()
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        record = await asyncio.wait_for(consumer.getone(tp), 15)
        return bytes(record.value) if record.value is not None else None
    finally:
        await consumer.stop()


async def _publish_as(
    broker: SaslBroker, user: str, topic: str, body: bytes, *, idempotent: bool = True
) -> int:
    """Publish as a service would (FastStream, idempotent, acks=all); return the record's offset."""
    security = kafka_security(broker.env(user))
    assert security is not None
    client = KafkaBroker(
        broker.bootstrap,
        client_id=user,
        enable_idempotence=idempotent,
        acks="all",
        security=security,
    )
    try:
        await client.start()
        metadata = await client.publish(body, topic, key=b"k")
        return int(metadata.offset)
    finally:
        await client.stop()


async def assert_lands(broker: SaslBroker, user: str, topic: str) -> None:
    body = f"{user}->{topic} {secrets.token_hex(4)}".encode()
    offset = await _publish_as(broker, user, topic, body)
    assert await _read_at(broker, topic, offset) == body, f"{user}'s record not on {topic}"


async def assert_refused(
    broker: SaslBroker,
    user: str,
    topic: str,
    error: type[Exception] = TopicAuthorizationFailedError,
    *,
    idempotent: bool = True,
) -> None:
    before = await _end_offset(broker, topic)
    body = f"{user} forging {topic}".encode()
    with pytest.raises(error):
        await _publish_as(broker, user, topic, body, idempotent=idempotent)
    assert await _end_offset(broker, topic) == before, f"{user} got a record onto {topic}"


async def _describe_acls(broker: SaslBroker) -> list[object]:
    return list(
        await describe_acls(
            broker.bootstrap,
            SUPER_USER,
            broker.passwords[SUPER_USER],
            ssl_context=broker.ssl_context(),
        )
    )


async def test_the_broker_holds_exactly_the_production_acls(sasl_broker: SaslBroker) -> None:
    assert await _describe_acls(sasl_broker) == list(all_acls())


async def test_parser_writes_parsed_orders_but_no_decisions_or_releases(
    sasl_broker: SaslBroker,
) -> None:
    await assert_lands(sasl_broker, PARSER, "orders.parsed.v1")
    await assert_refused(sasl_broker, PARSER, "plans.decided.v1")
    await assert_refused(sasl_broker, PARSER, "plans.released.v1")


async def test_planner_writes_proposals_but_no_decisions_or_releases(
    sasl_broker: SaslBroker,
) -> None:
    await assert_lands(sasl_broker, PLANNER, "plans.proposed.v1")
    await assert_refused(sasl_broker, PLANNER, "plans.released.v1")
    await assert_refused(sasl_broker, PLANNER, "plans.decided.v1")


async def test_gate_writes_releases(sasl_broker: SaslBroker) -> None:
    await assert_lands(sasl_broker, GATE, "plans.released.v1")
    await assert_refused(sasl_broker, GATE, "plans.decided.v1")


async def test_operator_writes_decisions_but_not_releases(sasl_broker: SaslBroker) -> None:
    await assert_lands(sasl_broker, OPERATOR, "plans.decided.v1")
    await assert_lands(sasl_broker, OPERATOR, "orders.submitted.v1")
    await assert_refused(sasl_broker, OPERATOR, "plans.released.v1")


async def test_admin_principal_writes_no_data(sasl_broker: SaslBroker) -> None:
    # With WRITE on no topic at all, it cannot even get an idempotent producer id ...
    await assert_refused(sasl_broker, ADMIN, "plans.released.v1", ClusterAuthorizationFailedError)
    # ... and a plain producer is refused at the topic.
    for topic in ("plans.released.v1", "plans.decided.v1", "orders.submitted.v1"):
        await assert_refused(sasl_broker, ADMIN, topic, idempotent=False)


async def test_wrong_password_fails_authentication(sasl_broker: SaslBroker) -> None:
    offset = sasl_broker.server_log.stat().st_size
    before = await _end_offset(sasl_broker, "plans.released.v1")
    security = kafka_security(sasl_broker.env(GATE, password="not-" + sasl_broker.passwords[GATE]))
    client = KafkaBroker(sasl_broker.bootstrap, client_id="intruder", security=security)
    with pytest.raises(KafkaConnectionError):
        await client.start()
    await client.stop()
    assert await _end_offset(sasl_broker, "plans.released.v1") == before
    # The refusal is the broker's authentication failure, not a connection problem.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sasl_broker.server_log.open("rb") as log:
            log.seek(offset)
            if b"Invalid username or password" in log.read():
                return
        await asyncio.sleep(0.2)
    pytest.fail("the broker logged no authentication failure for the wrong password")


async def _create_topic_as(broker: SaslBroker, user: str, topic: str) -> str:
    """The broker's answer to `user` creating `topic`: the error's name, or "created"."""
    kwargs = aiokafka_security_kwargs(kafka_security(broker.env(user)))
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, **kwargs)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    [(name, code, *_)] = response.topic_errors
    assert name == topic
    return "created" if code == 0 else str(for_code(code).__name__)


async def _topics(broker: SaslBroker) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, **broker.admin_kwargs())
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_only_the_admin_principal_creates_topics_and_only_project_ones(
    sasl_broker: SaslBroker,
) -> None:
    # Authorised for a project topic: the broker answers that it exists, not that it is forbidden.
    answer = await _create_topic_as(sasl_broker, ADMIN, "plans.released.v1")
    assert answer == TopicAlreadyExistsError.__name__
    for user in (ADMIN, PARSER):
        answer = await _create_topic_as(sasl_broker, user, f"rogue.{user}.v1")
        assert answer == TopicAuthorizationFailedError.__name__
        assert f"rogue.{user}.v1" not in await _topics(sasl_broker)
    answer = await _create_topic_as(sasl_broker, PARSER, "plans.released.v1")
    assert answer == TopicAuthorizationFailedError.__name__


def test_qm_topics_create_and_qm_acls_apply_work_as_the_compose_init_job_runs_them(
    sasl_broker: SaslBroker,
) -> None:
    """The compose init job's commands, as the super user: idempotent, and the set stays exact."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        **sasl_broker.env(SUPER_USER),
        "KAFKA_BOOTSTRAP": sasl_broker.bootstrap,
        "QM_KAFKA_ADMIN_PASSWORD": sasl_broker.passwords[SUPER_USER],
    }
    qm = str(Path(sys.executable).parent / "qm")
    for command in (["topics", "create"], ["acls", "apply"]):
        done = subprocess.run(
            [qm, *command], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
    assert "ACL bindings in place" in done.stdout
    assert "warning" not in done.stderr
    refused = subprocess.run(
        [qm, "acls", "apply"],
        env={**env, "QM_KAFKA_ADMIN_PASSWORD": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1 and "QM_KAFKA_ADMIN_PASSWORD" in refused.stderr
    assert asyncio.run(_describe_acls(sasl_broker)) == list(all_acls())


# --- The release and audit history: kept forever, and no principal can change that. ---


def _error_name(code: int) -> str:
    return "ok" if code == 0 else str(for_code(code).__name__)


async def _alter_retention_as(broker: SaslBroker, user: str, topic: str, ms: str) -> str:
    """The broker's answer to `user` setting retention.ms of `topic`: an error name, or "ok"."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, **broker.kwargs(user))
    await admin.start()
    try:
        [response] = await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": ms})]
        )
    finally:
        await admin.close()
    [(code, _message, _type, name)] = response.resources
    assert name == topic
    return _error_name(code)


async def _delete_topic_as(broker: SaslBroker, user: str, topic: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, **broker.kwargs(user))
    await admin.start()
    try:
        response = await admin.delete_topics([topic])
    finally:
        await admin.close()
    [(name, code, *_)] = response.topic_error_codes
    assert name == topic
    return _error_name(code)


async def _delete_records_as(broker: SaslBroker, user: str, topic: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, **broker.kwargs(user))
    await admin.start()
    try:
        # -1: everything up to the high watermark.
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(-1)})
    except TopicAuthorizationFailedError as err:
        return type(err).__name__
    finally:
        await admin.close()
    return "ok"


async def _configs(broker: SaslBroker, topics: list[str]) -> dict[str, dict[str, str]]:
    """The topics' settings as the super user sees them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, **broker.admin_kwargs())
    await admin.start()
    try:
        resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        return config_values(await admin.describe_configs(resources))
    finally:
        await admin.close()


async def _set_config_as_super_user(broker: SaslBroker, topic: str, config: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, **broker.admin_kwargs())
    await admin.start()
    try:
        [response] = await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, config)]
        )
    finally:
        await admin.close()
    assert [r[0] for r in response.resources] == [0], response


async def test_the_release_and_audit_topics_are_created_to_be_kept_forever(
    sasl_broker: SaslBroker,
) -> None:
    configs = await _configs(sasl_broker, protected_topics())
    for topic in ("plans.released.v1", "audit.events.v1"):
        assert configs[topic]["retention.ms"] == "-1"
        assert configs[topic]["retention.bytes"] == "-1"
        assert configs[topic]["cleanup.policy"] == "delete"  # never compacted


@pytest.mark.parametrize("user", PRINCIPALS)
async def test_no_principal_can_shorten_or_delete_the_release_and_audit_history(
    sasl_broker: SaslBroker, user: str
) -> None:
    refused = TopicAuthorizationFailedError.__name__
    ends = {t: await _end_offset(sasl_broker, t) for t in protected_topics()}
    for topic in protected_topics():
        assert await _alter_retention_as(sasl_broker, user, topic, "60000") == refused
        assert await _delete_records_as(sasl_broker, user, topic) == refused
        assert await _delete_topic_as(sasl_broker, user, topic) == refused
    # Nothing changed: the topics are there, as long as before, and still kept forever.
    assert set(protected_topics()) <= await _topics(sasl_broker)
    assert {t: await _end_offset(sasl_broker, t) for t in protected_topics()} == ends
    for topic, config in (await _configs(sasl_broker, protected_topics())).items():
        assert (config["retention.ms"], config["retention.bytes"]) == ("-1", "-1"), topic


async def test_the_same_attack_works_where_no_deny_applies(sasl_broker: SaslBroker) -> None:
    """The control: qm-admin may change other topics' retention, so the refusals above are the
    DENY entries at work, not a broken request."""
    topic = "orders.submitted.v1.dlq"
    try:
        assert await _alter_retention_as(sasl_broker, ADMIN, topic, "3600000") == "ok"
        assert (await _configs(sasl_broker, [topic]))[topic]["retention.ms"] == "3600000"
    finally:
        await _set_config_as_super_user(sasl_broker, topic, {})


def test_qm_topics_create_names_a_release_topic_that_would_lose_its_history(
    sasl_broker: SaslBroker,
) -> None:
    """An existing topic with a finite retention is reported with the fix, and left unchanged."""
    import sys

    topic = "plans.released.v1"
    asyncio.run(_set_config_as_super_user(sasl_broker, topic, {"retention.ms": "86400000"}))
    try:
        env = {**os.environ, **sasl_broker.env(ADMIN), "KAFKA_BOOTSTRAP": sasl_broker.bootstrap}
        done = subprocess.run(
            [str(Path(sys.executable).parent / "qm"), "topics", "create"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        warning = " ".join(done.stderr.split())  # rich wraps long lines
        assert f"warning: topic {topic} already exists with retention.ms=86400000" in warning
        assert "--add-config retention.bytes=-1,retention.ms=-1" in warning
        assert "audit.events.v1" not in warning  # that one is as it must be
        configs = asyncio.run(_configs(sasl_broker, [topic]))
        assert configs[topic]["retention.ms"] == "86400000", "qm topics create altered the topic"
    finally:
        asyncio.run(_set_config_as_super_user(sasl_broker, topic, dict(topic_config(topic))))
    assert asyncio.run(_configs(sasl_broker, [topic]))[topic]["retention.ms"] == "-1"


# --- TLS: the listener speaks SASL_SSL only, and clients verify it against the project's CA. ---


def _handshake(broker: SaslBroker, context: ssl.SSLContext) -> dict[str, object]:
    """A bare TLS handshake with the broker's listener; the broker certificate it verified."""
    host, port = broker.bootstrap.rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return dict(tls.getpeercert() or {})


def test_clients_verify_the_broker_against_the_generated_ca(sasl_broker: SaslBroker) -> None:
    certificate = _handshake(sasl_broker, sasl_broker.ssl_context())
    assert ("IP Address", "127.0.0.1") in certificate["subjectAltName"]  # type: ignore[operator]
    assert ("DNS", "localhost") in certificate["subjectAltName"]  # type: ignore[operator]
    # Without the CA, the system trust store does not know the broker's certificate.
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(sasl_broker, ssl.create_default_context())


async def test_a_client_without_the_ca_cannot_connect(sasl_broker: SaslBroker) -> None:
    env = {k: v for k, v in sasl_broker.env(GATE).items() if k != "QM_KAFKA_SSL_CAFILE"}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=sasl_broker.bootstrap,
        request_timeout_ms=10_000,
        **aiokafka_security_kwargs(kafka_security(env)),
    )
    with pytest.raises(KafkaConnectionError):
        await admin.start()
    await admin.close()


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
async def test_clients_without_tls_cannot_talk_to_the_listener(
    sasl_broker: SaslBroker, protocol: str
) -> None:
    # The super user's own, correct credentials: only the missing TLS is wrong.
    env = {
        "QM_KAFKA_SECURITY_PROTOCOL": protocol,
        **(
            {
                "QM_KAFKA_SASL_USERNAME": SUPER_USER,
                "QM_KAFKA_SASL_PASSWORD": sasl_broker.passwords[SUPER_USER],
            }
            if protocol == "SASL_PLAINTEXT"
            else {}
        ),
    }
    admin = AIOKafkaAdminClient(
        bootstrap_servers=sasl_broker.bootstrap,
        request_timeout_ms=10_000,
        **aiokafka_security_kwargs(kafka_security(env)),
    )
    with pytest.raises(KafkaConnectionError):
        await admin.start()
    await admin.close()
    # The control: the same address over SASL_SSL answers.
    assert "plans.released.v1" in await _topics(sasl_broker)
