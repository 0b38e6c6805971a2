"""Poison messages on the real broker: each lands on `<topic>.dlq` and every service keeps going.

One stack (parser, planner, gate) reads raw poison values written with aiokafka on each service's
input topic, then a valid message. Every poison carries a run marker so it is told apart from
older records on the shared topics.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas.envelope import utcnow
from schemas.orders import DemandLine, OrderParsed, OrderSubmitted
from schemas.plans import Decision, PlanDecided
from schemas.topics import Topic
from services.common.codec import encode
from services.common.kafka import Record, read_topics
from tests.e2e.conftest import Stack, free_port, wait_for

pytestmark = pytest.mark.kafka

RUN = uuid.uuid4().hex[:10]
NOW = utcnow()  # fixed, so every message can be rebuilt byte for byte
LIMITS = {"parser": 4096, "planner": 4096, "gate": 65536}
SERVICES = {
    Topic.ORDERS_SUBMITTED: "parser",
    Topic.ORDERS_PARSED: "planner",
    Topic.PLANS_DECIDED: "gate",
}
CATEGORIES = (
    "invalid_json",
    "invalid_utf8",
    "unknown_schema_version",
    "schema_violation",
    "duplicate_key",
    "nul_byte",
    "oversized",
)
# Rules accept this order; the order below it needs the model, which is unreachable.
VALID_TEXT = "REQ 4 pallets of bottled water to FOB Halcyon within 12 hrs. Routine. SGT T. BELL"
NEEDS_MODEL_TEXT = f"Need some of the usual stuff out to the lads, ref {RUN}"


def _valid(topic: Topic, tag: str) -> OrderSubmitted | OrderParsed | PlanDecided:
    now = NOW
    if topic is Topic.ORDERS_SUBMITTED:
        text = NEEDS_MODEL_TEXT if tag == "llm" else VALID_TEXT
        return OrderSubmitted(
            message_id=f"m-{RUN}-{tag}", occurred_at=now, order_id=f"o-{RUN}-{tag}", text=text
        )
    if topic is Topic.ORDERS_PARSED:
        return OrderParsed(
            message_id=f"m-{RUN}-{tag}",
            occurred_at=now,
            order_id=f"o-{RUN}-{tag}",
            destination="FOB-HALCYON",
            lines=(DemandLine(sku="WATER-PALLET", quantity=2, unit="pallet"),),
            text=VALID_TEXT,
        )
    return PlanDecided(
        message_id=f"m-{RUN}-{tag}",
        occurred_at=now,
        plan_id=f"plan-{RUN}-unknown",
        plan_hash="0" * 64,
        decision=Decision.APPROVE,
        operator_id="duty-officer",
        role="approver",
        decided_at=now,
        expires_at=now + timedelta(hours=1),
    )


def poisons(topic: Topic) -> dict[str, bytes]:
    """One raw value per poison category, each marked with the run and the topic."""
    mark = f"{RUN}-{SERVICES[topic]}"
    valid = json.loads(encode(_valid(topic, "poison")))
    valid["message_id"] = f"m-{mark}"
    future = {**valid, "schema_version": "2.0"}
    missing = {k: v for k, v in valid.items() if k in ("message_id", "schema_version")}
    body = json.dumps(valid)
    limit = LIMITS[SERVICES[topic]]
    return {
        "invalid_json": f'{{"message_id": "m-{mark}", '.encode(),
        "invalid_utf8": f'{{"message_id": "m-{mark}\xff"}}'.encode("latin-1") + b"\xc3\x28",
        "unknown_schema_version": json.dumps(future).encode(),
        "schema_violation": json.dumps(missing).encode(),
        "duplicate_key": (body[:-1] + f', "message_id": "m-{mark}-again"}}').encode(),
        "nul_byte": body.replace(f"m-{mark}", f"m-{mark}\\u0000", 1).encode(),
        "oversized": json.dumps({**valid, "pad": "x" * (limit + 100)}).encode(),
    }


async def _produce(bootstrap: str, items: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, value in items:
            await producer.send_and_wait(topic, value, key=RUN.encode())
    finally:
        await producer.stop()


def _dead_letter_counts(stack: Stack, service: str, topic: Topic) -> dict[str, float]:
    """qm_dead_letters_total of one service and source topic, by reason."""
    url = f"http://127.0.0.1:{stack.ports[service]}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("qm_dead_letters_total{") and f'topic="{topic.value}"' in line:
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            counts[reason] = counts.get(reason, 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


@dataclass
class Outcome:
    stack: Stack
    dlq: list[Record]
    outputs: list[Record]


def _read(bootstrap: str, topics: list[str]) -> list[Record]:
    return asyncio.run(read_topics(bootstrap, topics, timeout_s=60))


@pytest.fixture(scope="module")
def poisoned(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """Start the three services, poison their inputs, send valid messages, wait for all."""
    base = tmp_path_factory.mktemp("poison")
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "QM_STATE_DIR": str(base / "state"),
        "QM_PARSER_GROUP_ID": f"e2e-parser-{RUN}",
        "QM_PLANNER_GROUP_ID": f"e2e-planner-{RUN}",
        "QM_PLANNER_TIME_LIMIT_S": "2",
        "QM_PLANNER_BATCH_WINDOW_S": "2",
        "QM_GATE_PLAN_WAIT_S": "1",
    }
    (base / "logs").mkdir()
    stack = Stack(env, base / "logs")
    stack.qm("topics", "create")
    try:
        # An OpenAI endpoint on a closed port: orders the rules cannot accept fail in the model.
        # The red-line judge is off here: with it on, every order would need the endpoint (and
        # dead-letter as llm_failed alike), which is not what these poisons are about.
        stack.start(
            "parser",
            QM_MAX_MESSAGE_BYTES=str(LIMITS["parser"]),
            QM_PARSER_BACKEND="openai",
            QM_PARSER_JUDGE="off",
            QM_PARSER_MODEL_POLICY="fallback",
            QM_PARSER_OPENAI_URL=f"http://127.0.0.1:{free_port()}/v1",
            QM_PARSER_OPENAI_TIMEOUT_S="2",
        )
        stack.start("planner", QM_MAX_MESSAGE_BYTES=str(LIMITS["planner"]))
        stack.start("gate", QM_MAX_MESSAGE_BYTES=str(LIMITS["gate"]))
        items = [(t.value, v) for t in SERVICES for v in poisons(t).values()]
        items.append((Topic.ORDERS_SUBMITTED.value, encode(_valid(Topic.ORDERS_SUBMITTED, "llm"))))
        items += [(t.value, encode(_valid(t, f"{SERVICES[t]}-valid"))) for t in SERVICES]
        asyncio.run(_produce(kafka_bootstrap, items))
        dlqs = [t.dlq for t in SERVICES]
        expected = {v for t in SERVICES for v in poisons(t).values()}
        wait_for(
            "every poison on its dead-letter topic",
            lambda: expected <= {r.value for r in _read(kafka_bootstrap, dlqs)},
            120,
            stack.logs,
        )
        outputs = [Topic.ORDERS_PARSED.value, Topic.PLANS_PROPOSED.value, Topic.AUDIT_EVENTS.value]
        wait_for(
            "the valid messages' outputs",
            lambda: all(
                any(f"{RUN}-{tag}-valid".encode() in r.value for r in _read(kafka_bootstrap, [t]))
                for t, tag in zip(outputs, ("parser", "planner", "gate"), strict=True)
            ),
            120,
            stack.logs,
        )
        yield Outcome(stack, _read(kafka_bootstrap, dlqs), _read(kafka_bootstrap, outputs))
    finally:
        stack.stop()


def _headers(record: Record) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("topic", list(SERVICES), ids=lambda t: SERVICES[t])
def test_each_poison_lands_on_the_dead_letter_topic_with_its_bytes_and_reason(
    poisoned: Outcome, topic: Topic, category: str
) -> None:
    value = poisons(topic)[category]
    found = [r for r in poisoned.dlq if r.topic == topic.dlq and r.value == value]
    assert found, f"{category} from {topic.value} is not on {topic.dlq}"
    headers = _headers(found[0])
    assert headers["qm-reason"] == category
    assert headers["qm-source-topic"] == topic.value
    assert headers["qm-service"] == SERVICES[topic]


def test_a_handler_failure_is_dead_lettered_as_llm_failed(poisoned: Outcome) -> None:
    value = encode(_valid(Topic.ORDERS_SUBMITTED, "llm"))
    found = [r for r in poisoned.dlq if r.value == value]
    assert found and found[0].topic == Topic.ORDERS_SUBMITTED.dlq
    assert _headers(found[0])["qm-reason"] == "llm_failed"


@pytest.mark.parametrize("topic", list(SERVICES), ids=lambda t: SERVICES[t])
def test_the_dead_letter_metric_counts_every_poison_by_reason(
    poisoned: Outcome, topic: Topic
) -> None:
    counts = _dead_letter_counts(poisoned.stack, SERVICES[topic], topic)
    # Fresh consumer groups read the topics from the start, so older poisons may add to these.
    assert all(counts.get(category, 0) >= 1 for category in CATEGORIES), counts


def test_the_valid_order_after_the_poisons_is_parsed(poisoned: Outcome) -> None:
    # This topic also holds the planner's poisons and input: pick the parser's order by its id.
    parsed = [
        r
        for r in poisoned.outputs
        if r.topic == Topic.ORDERS_PARSED.value and f"o-{RUN}-parser-valid".encode() in r.value
    ]
    assert [OrderParsed.model_validate_json(r.value).destination for r in parsed] == ["FOB-HALCYON"]


def test_the_valid_parsed_order_after_the_poisons_is_planned(poisoned: Outcome) -> None:
    proposed = [r for r in poisoned.outputs if r.topic == Topic.PLANS_PROPOSED.value]
    assert any(f"o-{RUN}-planner-valid".encode() in r.value for r in proposed)


def test_the_valid_decision_after_the_poisons_is_judged_and_audited(poisoned: Outcome) -> None:
    audit = [r for r in poisoned.outputs if r.topic == Topic.AUDIT_EVENTS.value]
    entries: list[dict[str, Any]] = [json.loads(r.value) for r in audit]
    assert any(e.get("decision_id") == f"m-{RUN}-gate-valid" for e in entries)


def test_no_service_crashed(poisoned: Outcome) -> None:
    assert poisoned.stack.alive() == {"parser": True, "planner": True, "gate": True}


def test_logs_name_each_dead_letter(poisoned: Outcome) -> None:
    logs = "".join(p.read_text() for p in Path(poisoned.stack.logs).glob("*.log"))
    assert logs.count("dead-lettered") >= len(CATEGORIES) * len(SERVICES)


def test_a_restarted_gate_replays_its_topics_without_dead_lettering_the_poison_again(
    poisoned: Outcome,
) -> None:
    stack = poisoned.stack
    bootstrap = stack.env["KAFKA_BOOTSTRAP"]
    stack.restart("gate", QM_MAX_MESSAGE_BYTES=str(LIMITS["gate"]))
    # Same key as the poisons, so the same partition: once this is audited, they were replayed.
    marker = encode(_valid(Topic.PLANS_DECIDED, "gate-after-restart"))
    asyncio.run(_produce(bootstrap, [(Topic.PLANS_DECIDED.value, marker)]))
    wait_for(
        "the decision sent after the restart in the audit trail",
        lambda: any(
            json.loads(r.value).get("decision_id") == f"m-{RUN}-gate-after-restart"
            for r in _read(bootstrap, [Topic.AUDIT_EVENTS.value])
        ),
        120,
        stack.logs,
    )
    ours = set(poisons(Topic.PLANS_DECIDED).values())
    dead = [r for r in _read(bootstrap, [Topic.PLANS_DECIDED.dlq]) if r.value in ours]
    assert len(dead) == len(ours), "a replayed poison was dead-lettered again"
