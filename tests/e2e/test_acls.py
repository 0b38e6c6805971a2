"""Kafka authorisation on a real broker: SASL/PLAIN principals confined by the production ACL set.

The module starts its own SASL broker (`QM_KAFKA_SASL=1 deploy/kafka/kafka.sh start`) on free
ports with a temporary state dir, so it never touches the plaintext test broker, and stops it at
the end. Producers connect the way the services will: FastStream's KafkaBroker with the security
object from services.common.security, idempotent and acks=all like make_broker.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
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
)
from services.common.security import aiokafka_security_kwargs, kafka_security

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

    def env(self, user: str, password: str | None = None) -> dict[str, str]:
        """The environment a service running as `user` would get."""
        return {
            "QM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "QM_KAFKA_SASL_USERNAME": user,
            "QM_KAFKA_SASL_PASSWORD": self.passwords[user] if password is None else password,
        }

    def admin_kwargs(self) -> dict[str, object]:
        """aiokafka client arguments for the super user."""
        return aiokafka_security_kwargs(kafka_security(self.env(SUPER_USER)))


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
        await admin.create_topics([NewTopic(t, 1, 1) for t in project_topics()])
    finally:
        await admin.close()
    await apply_acls(broker.bootstrap, SUPER_USER, broker.passwords[SUPER_USER])


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
        broker = SaslBroker(f"127.0.0.1:{port}", passwords, state / "logs" / "server.log")
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


async def test_the_broker_holds_exactly_the_production_acls(sasl_broker: SaslBroker) -> None:
    found = await describe_acls(
        sasl_broker.bootstrap, SUPER_USER, sasl_broker.passwords[SUPER_USER]
    )
    assert found == all_acls()


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
    refused = subprocess.run(
        [qm, "acls", "apply"],
        env={**env, "QM_KAFKA_ADMIN_PASSWORD": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1 and "QM_KAFKA_ADMIN_PASSWORD" in refused.stderr
    found = asyncio.run(
        describe_acls(sasl_broker.bootstrap, SUPER_USER, sasl_broker.passwords[SUPER_USER])
    )
    assert found == all_acls()
