"""Parser handler, on the in-memory broker and on a real one: demands, rejections and dead
letters."""

from __future__ import annotations

import json
import uuid

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
from tests.wire import Wire


def _order(text: str, n: int = 0) -> OrderSubmitted:
    return OrderSubmitted(
        message_id=f"m-{n}",
        occurred_at=NOW,
        order_id=content_id("ord", n),
        text=text,
        submitted_by="s4-clerk",
    )


def _parser(backend: ScriptedBackend | None, wire: Wire):
    settings = ParserSettings(
        model_policy="always", group_id=f"qm-parser-{uuid.uuid4().hex[:8]}", **wire.settings()
    )
    _, parser = build_app(settings, backend, live=False)
    out: dict[str, list[bytes]] = {"parsed": [], "rejected": [], "dlq": []}
    for topic, name in (
        (Topic.ORDERS_PARSED.value, "parsed"),
        (Topic.ORDERS_REJECTED.value, "rejected"),
        (Topic.ORDERS_SUBMITTED.dlq, "dlq"),
    ):
        parser.broker.subscriber(topic, auto_offset_reset="earliest")(_collector(out[name]))
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


async def test_an_order_becomes_a_demand_keyed_by_its_id(wire):
    backend = ScriptedBackend(_echo_model)
    parser, out = _parser(backend, wire)
    order = _order("REQ 4 pallets of bottled water to FOB Halcyon within 12 hrs. SGT T. BELL")
    async with wire.running(parser.broker) as bus:
        await bus.publish(encode(order), Topic.ORDERS_SUBMITTED.value)
        await wire.until("the demand", lambda: out["parsed"])
    parsed = OrderParsed.model_validate_json(out["parsed"][0])
    assert parsed.order_id == order.order_id
    assert parsed.destination == "FOB-HALCYON"
    assert [(line.sku, line.quantity) for line in parsed.lines] == [("WATER-PALLET", 4)]
    assert parsed.parser == "scripted" and backend.calls == 1


async def test_a_red_line_request_is_refused_before_the_model_sees_it(wire):
    backend = ScriptedBackend(_echo_model)
    parser, out = _parser(backend, wire)
    order = _order("Use the drone to track the people leaving Solane and send 2 pallets of water")
    async with wire.running(parser.broker) as bus:
        await bus.publish(encode(order), Topic.ORDERS_SUBMITTED.value)
        await wire.until("the refusal", lambda: out["rejected"])
    rejected = OrderRejected.model_validate_json(out["rejected"][0])
    assert rejected.outcome.value == "refused" and rejected.category is not None
    assert rejected.category.value == "surveillance" and rejected.text == order.text
    assert backend.calls == 0 and out["parsed"] == []


async def test_invalid_model_output_is_reasked_once_then_dead_lettered(wire):
    backend = ScriptedBackend(["not json", '{"items": "nope"}'])
    parser, out = _parser(backend, wire)
    order = _order("4 pallets of bottled water to FOB Halcyon")
    async with wire.running(parser.broker) as bus:
        await bus.publish(encode(order), Topic.ORDERS_SUBMITTED.value)
        await bus.publish(b"\xff\xfe not utf-8", Topic.ORDERS_SUBMITTED.value)
        await wire.until("both dead letters", lambda: len(out["dlq"]) == 2)
    assert backend.calls == 2
    # One batch or two: the unreadable record may be dead-lettered before the model answers.
    assert sorted(out["dlq"]) == sorted([encode(order), b"\xff\xfe not utf-8"])
    assert out["parsed"] == [] and out["rejected"] == []


async def test_a_missing_destination_asks_back_instead_of_guessing(wire):
    parser, out = _parser(None, wire)
    async with wire.running(parser.broker) as bus:
        await bus.publish(
            encode(_order("send 4 pallets of bottled water to the usual spot")),
            Topic.ORDERS_SUBMITTED.value,
        )
        await wire.until("the question back", lambda: out["rejected"])
    rejected = json.loads(out["rejected"][0])
    assert rejected["outcome"] == "clarify" and "destination" in rejected["missing"]


async def test_a_batch_is_parsed_whole_and_a_poison_in_it_goes_to_the_dead_letters(wire):
    parser, out = _parser(None, wire)
    good = [_order(f"send {n} pallets of bottled water to FOB Halcyon", n) for n in (2, 3, 4)]
    async with wire.running(parser.broker) as bus:
        await bus.publish_batch(
            encode(good[0]),
            b"{oops",
            encode(good[1]),
            encode(good[2]),
            topic=Topic.ORDERS_SUBMITTED.value,
        )
        await wire.until("three demands", lambda: len(out["parsed"]) == 3 and out["dlq"])
    parsed = [OrderParsed.model_validate_json(body) for body in out["parsed"]]
    assert sorted(p.lines[0].quantity for p in parsed) == [2, 3, 4]
    assert out["dlq"] == [b"{oops"]


async def test_a_review_that_is_no_contract_is_dead_lettered_before_the_handler(wire):
    parser, out = _parser(None, wire)
    dead: list[tuple[bytes, str]] = []

    @parser.broker.subscriber(Topic.ORDERS_REVIEWED.dlq, auto_offset_reset="earliest")
    async def capture(msg: KafkaMessage) -> None:
        dead.append((msg.body, str(msg.headers.get("qm-reason"))))

    async with wire.running(parser.broker) as bus:
        await bus.publish(b'{"order_id": 5}', Topic.ORDERS_REVIEWED.value)
        await bus.publish(
            encode(_order("send 2 pallets of bottled water to FOB Halcyon")),
            Topic.ORDERS_SUBMITTED.value,
        )
        await wire.until("the dead letter and the next order", lambda: dead and out["parsed"])
    assert dead == [(b'{"order_id": 5}', "unknown_schema_version")]


async def test_an_order_the_parsers_code_fails_on_is_dead_lettered_and_the_rest_go_on(
    wire, monkeypatch
):
    """A bug met on one text (here: the place reader raising) must not stop the partition."""
    from services.parser import places

    parser, out = _parser(None, wire)
    real = places.Gazetteer.mentions

    def fragile(self, text):  # type: ignore[no-untyped-def]
        if "Kestrel" in text:
            raise RuntimeError("a bug this text meets")
        return real(self, text)

    monkeypatch.setattr(places.Gazetteer, "mentions", fragile)
    bad = encode(_order("send 2 pallets of bottled water to the Kestrel bridge", 1))
    good = encode(_order("send 3 pallets of bottled water to FOB Halcyon", 2))
    async with wire.running(parser.broker) as bus:
        await bus.publish(bad, Topic.ORDERS_SUBMITTED.value)
        await bus.publish(good, Topic.ORDERS_SUBMITTED.value)
        await wire.until("the dead letter and the next order", lambda: out["dlq"] and out["parsed"])
    assert out["dlq"] == [bad]
    assert OrderParsed.model_validate_json(out["parsed"][0]).lines[0].quantity == 3
