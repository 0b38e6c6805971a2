"""End to end on the real broker: an order sent by a plain Kafka client, not by `qm`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess

import pytest
from aiokafka import AIOKafkaProducer

from schemas.orders import OrderParsed
from schemas.topics import Topic
from services.common.codec import DecodeError, decode
from services.common.kafka import read_topics
from tests.e2e.conftest import REPO, Stack, wait_for

pytestmark = pytest.mark.kafka


async def _send(
    bootstrap: str, records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
) -> None:
    """What kcat or the console producer does: raw bytes, an optional key and headers."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(
                Topic.ORDERS_SUBMITTED.value, value, key=key, headers=headers
            )
    finally:
        await producer.stop()


def _parsed(stack: Stack) -> dict[str, OrderParsed]:
    found = {}
    records = asyncio.run(read_topics(stack.env["KAFKA_BOOTSTRAP"], [Topic.ORDERS_PARSED.value]))
    for record in records:
        with contextlib.suppress(DecodeError):
            order = decode(OrderParsed, record.value, 1 << 20)
            found[order.order_id] = order
    return found


def test_plain_text_and_bare_fields_from_any_client_are_parsed_and_planned(stack: Stack) -> None:
    """A text value keyed by the client, a JSON object of business fields and a console
    producer's line: each parsed and planned, and, unsigned, its plan wants two people."""
    stack.start("parser", QM_PARSER_BACKEND="rules")
    stack.start("planner", QM_PLANNER_BATCH_MAX_ORDERS="100", QM_PLANNER_BATCH_WINDOW_S="4")
    key = f"kcat-{stack.env['QM_PARSER_GROUP_ID']}".encode()
    bare_id = f"bare-{stack.env['QM_PARSER_GROUP_ID']}"
    asyncio.run(
        _send(
            stack.env["KAFKA_BOOTSTRAP"],
            [
                (
                    key,
                    b"REQ 4 pallets of bottled water to FOB Halcyon within 12 hrs. SGT T. BELL",
                    [("from", b"net-relay/ANVIL")],
                ),
                (
                    None,
                    json.dumps(
                        {
                            "order_id": bare_id,
                            "text": "Please send 80 blankets to Gullwing Camp within 20 "
                            "hours. Thanks, Ana Ruiz",
                        }
                    ).encode(),
                    [],
                ),
            ],
        )
    )
    # Kafka's own console producer, as the README shows it: key<TAB>text on stdin.
    console_key = f"console-{stack.env['QM_PARSER_GROUP_ID']}"
    subprocess.run(
        [str(REPO / "deploy/kafka/kafka.sh"), "produce", Topic.ORDERS_SUBMITTED.value,
         "--property", "parse.key=true", "--property", "key.separator=\t"],
        input=f"{console_key}\tSolane village needs 30 cases of MREs within 16 hrs. POC: Dario Menne\n",  # noqa: E501
        text=True, check=True, env=stack.env, timeout=60,
    )  # fmt: skip
    wanted = {key.decode(), bare_id, console_key}
    parsed = wait_for(
        "the three orders parsed",
        lambda: p if wanted <= set(p := _parsed(stack)) else None,
        90,
        stack.logs,
    )
    console = parsed[console_key]
    assert console.destination == "VIL-SOLANE" and console.requester == "Dario Menne"
    plain, bare = parsed[key.decode()], parsed[bare_id]
    assert (plain.destination, plain.submitted_by) == ("FOB-HALCYON", "net-relay/ANVIL")
    assert [(line.sku, line.quantity) for line in plain.lines] == [("WATER-PALLET", 4)]
    assert bare.destination == "CAMP-GULLWING" and bare.requester == "Ana Ruiz"

    plans = wait_for(
        "a plan with the three orders",
        lambda: [p for p in stack.qm_json("plans", "list") if wanted <= set(p["orders"])],
        120,
        stack.logs,
    )
    shown = stack.qm_json("plans", "show", plans[0]["plan_id"])
    assert shown["needed"] == 2 and "unauthenticated_submitter" in shown["gate_risk"]
    fates = {o["order_id"]: o for o in stack.qm_json("orders", "list")}
    assert {fates[o]["status"] for o in wanted} == {"planned"}
