"""Parser handler on the in-memory broker: demands, rejections and dead letters."""

from __future__ import annotations

import json

import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.envelope import content_id
from schemas.orders import OrderParsed, OrderRejected, OrderSubmitted
from schemas.topics import Topic
from services.common.codec import encode
from services.parser.app import build_app
from services.parser.extraction import Extraction
from services.parser.llm import ScriptedBackend
from services.parser.settings import ParserSettings
from tests.factories import NOW


def _order(text: str, n: int = 0) -> OrderSubmitted:
    return OrderSubmitted(
        message_id=f"m-{n}",
        occurred_at=NOW,
        order_id=content_id("ord", n),
        text=text,
        submitted_by="s4-clerk",
    )


def _wire(backend: ScriptedBackend | None):
    _, parser = build_app(ParserSettings(model_policy="always"), backend, live=False)
    out: dict[str, list[bytes]] = {"parsed": [], "rejected": [], "dlq": []}
    for topic, name in (
        (Topic.ORDERS_PARSED.value, "parsed"),
        (Topic.ORDERS_REJECTED.value, "rejected"),
        (Topic.ORDERS_SUBMITTED.dlq, "dlq"),
    ):
        parser.broker.subscriber(topic)(_collector(out[name]))
    return parser, out


def _collector(sink: list[bytes]):
    async def capture(msg: KafkaMessage) -> None:
        sink.append(msg.body)

    return capture


def _echo_model(text: str) -> str:
    """A scripted model that copies the destination and nothing else."""
    return Extraction(
        destination_phrase="FOB Halcyon" if "Halcyon" in text else ""
    ).model_dump_json()


@pytest.mark.asyncio
async def test_an_order_becomes_a_demand_keyed_by_its_id():
    backend = ScriptedBackend(_echo_model)
    parser, out = _wire(backend)
    order = _order("REQ 4 pallets of bottled water to FOB Halcyon within 12 hrs. SGT T. BELL")
    async with TestKafkaBroker(parser.broker) as broker:
        await broker.publish(encode(order), Topic.ORDERS_SUBMITTED.value)
    parsed = OrderParsed.model_validate_json(out["parsed"][0])
    assert parsed.order_id == order.order_id
    assert parsed.destination == "FOB-HALCYON"
    assert [(line.sku, line.quantity) for line in parsed.lines] == [("WATER-PALLET", 4)]
    assert parsed.parser == "scripted" and backend.calls == 1


@pytest.mark.asyncio
async def test_a_red_line_request_is_refused_before_the_model_sees_it():
    backend = ScriptedBackend(_echo_model)
    parser, out = _wire(backend)
    order = _order("Use the drone to track the people leaving Solane and send 2 pallets of water")
    async with TestKafkaBroker(parser.broker) as broker:
        await broker.publish(encode(order), Topic.ORDERS_SUBMITTED.value)
    rejected = OrderRejected.model_validate_json(out["rejected"][0])
    assert rejected.outcome.value == "refused" and rejected.category is not None
    assert rejected.category.value == "surveillance" and rejected.text == order.text
    assert backend.calls == 0 and out["parsed"] == []


@pytest.mark.asyncio
async def test_invalid_model_output_is_reasked_once_then_dead_lettered():
    backend = ScriptedBackend(["not json", '{"items": "nope"}'])
    parser, out = _wire(backend)
    order = _order("4 pallets of bottled water to FOB Halcyon")
    async with TestKafkaBroker(parser.broker) as broker:
        await broker.publish(encode(order), Topic.ORDERS_SUBMITTED.value)
        await broker.publish(b"\xff\xfe not utf-8", Topic.ORDERS_SUBMITTED.value)
    assert backend.calls == 2
    assert out["dlq"] == [encode(order), b"\xff\xfe not utf-8"]
    assert out["parsed"] == [] and out["rejected"] == []


@pytest.mark.asyncio
async def test_a_missing_destination_asks_back_instead_of_guessing():
    parser, out = _wire(None)
    async with TestKafkaBroker(parser.broker) as broker:
        await broker.publish(
            encode(_order("send 4 pallets of bottled water to the usual spot")),
            Topic.ORDERS_SUBMITTED.value,
        )
    rejected = json.loads(out["rejected"][0])
    assert rejected["outcome"] == "clarify" and "destination" in rejected["missing"]


@pytest.mark.asyncio
async def test_a_batch_is_parsed_whole_and_a_poison_in_it_goes_to_the_dead_letters():
    parser, out = _wire(None)
    good = [_order(f"send {n} pallets of bottled water to FOB Halcyon", n) for n in (2, 3, 4)]
    async with TestKafkaBroker(parser.broker) as broker:
        await broker.publish_batch(
            encode(good[0]),
            b"{oops",
            encode(good[1]),
            encode(good[2]),
            topic=Topic.ORDERS_SUBMITTED.value,
        )
    parsed = [OrderParsed.model_validate_json(body) for body in out["parsed"]]
    assert sorted(p.lines[0].quantity for p in parsed) == [2, 3, 4]
    assert out["dlq"] == [b"{oops"]
