"""`qm dlq` on the real broker: a poison is listed, shown, and replayed to its source topic."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner

from schemas.topics import Topic
from services.cli.dlq import REPLAYED_FROM, app
from services.common.kafka import ensure_topics, read_topics

pytestmark = pytest.mark.kafka

SOURCE = Topic.ORDERS_SUBMITTED


@pytest.fixture
def qm_dlq(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `qm dlq …` in-process against the real broker; returns (exit code, output)."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP", kafka_bootstrap)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    return invoke


@pytest.fixture
def poison(kafka_bootstrap: str) -> bytes:
    """A dead-lettered record written as a service would write it (bytes are not valid UTF-8)."""
    value = f'{{"order_id": "dlq-{uuid.uuid4().hex}", '.encode() + b"\xff"

    async def write() -> None:
        await ensure_topics(kafka_bootstrap, 3)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                SOURCE.dlq,
                value,
                key=b"k1",
                headers=[
                    ("qm-reason", b"invalid_utf8"),
                    ("qm-detail", b"byte 0xff"),
                    ("qm-source-topic", SOURCE.value.encode()),
                    ("qm-service", b"parser"),
                ],
            )
        finally:
            await producer.stop()

    asyncio.run(write())
    return value


def _find(qm_dlq: Any, value: bytes) -> dict[str, Any]:
    code, out = qm_dlq("list", "--topic", SOURCE.value, "--json")
    assert code == 0, out
    for row in (r for r in json.loads(out) if r["size"] == len(value)):
        code, shown = qm_dlq("show", row["ref"], "--json")
        if code == 0 and json.loads(shown).get("hex") == value.hex():
            return dict(json.loads(shown))
    raise AssertionError("the poison is not listed")


def test_list_shows_the_dead_lettered_record_with_its_reason_and_size(
    qm_dlq: Any, poison: Any
) -> None:
    shown = _find(qm_dlq, poison)
    assert (shown["reason"], shown["size"], shown["source"]) == (
        "invalid_utf8",
        len(poison),
        SOURCE.value,
    )


def test_show_gives_the_headers_and_the_original_bytes_as_hex(qm_dlq: Any, poison: Any) -> None:
    shown = _find(qm_dlq, poison)
    assert bytes.fromhex(shown["hex"]) == poison
    assert shown["headers"]["qm-service"] == "parser" and shown["key"] == "k1"


def test_the_table_lists_the_record(qm_dlq: Any, poison: Any) -> None:
    ref = _find(qm_dlq, poison)["ref"]
    code, out = qm_dlq("list", "--topic", SOURCE.value, "--reason", "invalid_utf8")
    assert code == 0 and "invalid_utf8" in out and str(ref.rsplit(":", 1)[1]) in out


def test_replay_puts_the_original_bytes_back_on_the_source_topic(
    qm_dlq: Any, poison: Any, kafka_bootstrap: str
) -> None:
    ref = _find(qm_dlq, poison)["ref"]
    code, out = qm_dlq("replay", "--record", ref, "--json")
    assert code == 0, out
    assert json.loads(out)["replayed"] == [
        {"ref": ref, "to": SOURCE.value, "reason": "invalid_utf8"}
    ]
    records = asyncio.run(read_topics(kafka_bootstrap, [SOURCE.value]))
    copies = [r for r in records if r.value == poison]
    assert len(copies) == 1
    assert dict(copies[0].headers)[REPLAYED_FROM] == ref.encode() and copies[0].key == b"k1"


def test_a_dry_run_replays_nothing(qm_dlq: Any, poison: Any, kafka_bootstrap: str) -> None:
    ref = _find(qm_dlq, poison)["ref"]
    code, out = qm_dlq("replay", "--record", ref, "--dry-run", "--json")
    assert code == 0 and json.loads(out)["dry_run"] is True
    records = asyncio.run(read_topics(kafka_bootstrap, [SOURCE.value]))
    assert not [r for r in records if r.value == poison]


def test_replay_without_a_selection_refuses(qm_dlq: Any) -> None:
    code, _ = qm_dlq("replay")
    assert code == 1
