"""The same handler tests on FastStream's in-memory broker and on a real Kafka broker.

A test takes the `wire` fixture, builds its service with `wire.settings()`, and drives it with
`async with wire.running(app_broker) as bus:`. In memory, `bus.publish` runs the handlers before
it returns. On Kafka the records go through a real KRaft broker (a fresh one for this tier,
started by the project's deploy/kafka/kafka.sh, every topic recreated before each test), so
`await wire.until(...)` waits for the outcome the test then checks; in memory it checks at once.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker, TestKafkaBroker, testing

from services.common.kafka import all_topics, ensure_topics

KAFKA_SH = Path(__file__).resolve().parents[1] / "deploy" / "kafka" / "kafka.sh"
BROKERS = ["memory", pytest.param("kafka", marks=pytest.mark.kafka)]


@dataclass
class Wire:
    """Which broker the handlers under test are wired to."""

    kind: str
    bootstrap: str = ""

    def settings(self) -> dict[str, Any]:
        """Settings fields that point a service at this broker."""
        return {"kafka_bootstrap": self.bootstrap} if self.bootstrap else {}

    @asynccontextmanager
    async def running(self, broker: KafkaBroker) -> AsyncIterator[KafkaBroker]:
        """The app's broker running on this wire; publish raw records through what it yields
        (`publish`, `publish_batch`)."""
        if self.kind == "memory":
            with _offsets_that_advance():
                async with TestKafkaBroker(broker) as test:
                    yield test
            return
        async with broker:
            await broker.start()
            yield broker

    async def until(self, what: str, check: Callable[[], object], within_s: float = 30.0) -> None:
        """Wait for `check` (on Kafka); in memory the handlers have run, so check now."""
        if self.kind == "memory":
            assert check(), what
            return
        deadline = asyncio.get_running_loop().time() + within_s
        while not check():
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"timed out after {within_s:.0f} s waiting for: {what}")
            await asyncio.sleep(0.1)


@contextmanager
def _offsets_that_advance() -> Iterator[None]:
    """The in-memory broker gives every record offset 0; a service that recognises records it
    has seen by topic/partition/offset (the gate's replay guard) would take each for the first.
    Here each record gets the next offset of its partition, as on Kafka."""
    counters: dict[tuple[str, int], itertools.count[int]] = {}
    built = testing.build_message

    async def numbered(*args: Any, **kwargs: Any) -> Any:
        record = await built(*args, **kwargs)
        record.offset = next(
            counters.setdefault((record.topic, record.partition), itertools.count())
        )
        return record

    testing.build_message = numbered  # type: ignore[assignment]
    try:
        yield
    finally:
        testing.build_message = built  # type: ignore[assignment]


def _free_ports() -> tuple[int, int]:
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        return int(a.getsockname()[1]), int(b.getsockname()[1])


def _kafka_sh(command: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(KAFKA_SH), command], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"kafka.sh {command} failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def handler_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh broker of its own, so recreating topics never touches the e2e tier's broker."""
    port, controller = _free_ports()
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP"}
    env |= {
        "QM_KAFKA_PORT": str(port),
        "QM_KAFKA_CONTROLLER_PORT": str(controller),
        "QM_KAFKA_STATE_DIR": str(tmp_path_factory.mktemp("kafka-handlers")),
        "QM_KAFKA_HEAP": "256m",
    }
    _kafka_sh("start", env)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        _kafka_sh("stop", env)


async def recreate_topics(bootstrap: str) -> None:
    """Every project topic deleted and created again: each test starts from empty logs."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        present = set(await admin.list_topics()) & set(all_topics())
        if present:
            await admin.delete_topics(sorted(present))
        for _ in range(100):  # deletion finishes asynchronously
            if not set(await admin.list_topics()) & present:
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    for attempt in range(50):
        try:
            await ensure_topics(bootstrap, 1)
            return
        except Exception:  # a topic still being deleted refuses creation for a moment
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture(params=BROKERS)
def wire(request: pytest.FixtureRequest) -> Wire:
    """The in-memory broker, then the real one: the same test runs on both."""
    if request.param == "memory":
        return Wire("memory")
    bootstrap: str = request.getfixturevalue("handler_kafka")
    asyncio.run(recreate_topics(bootstrap))
    return Wire("kafka", bootstrap)
