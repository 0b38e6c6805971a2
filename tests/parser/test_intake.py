"""Orders from any Kafka client: plain text and bare business fields are orders; junk is not."""

from __future__ import annotations

import json

import pytest

from services.common.codec import DecodeError
from services.parser.intake import Where, read_order

LIMIT = 1 << 16
HERE = Where("orders.submitted.v1", 2, 41, 1_764_900_000_000, None, (("from", b"radio-net"),))


def test_plain_text_is_an_order_with_an_id_from_its_place_in_the_log() -> None:
    """kcat's bytes: the text as written, the id stable for that offset, sender from a header."""
    order = read_order(b"REQ 4 pallets of water to FOB Halcyon\n", HERE, LIMIT)
    assert order.text == "REQ 4 pallets of water to FOB Halcyon"
    assert order.submitted_by == "radio-net"
    assert order.order_id == read_order(b"other words", HERE, LIMIT).order_id
    elsewhere = Where(HERE.topic, 2, 42, HERE.timestamp_ms, None)
    assert read_order(b"other words", elsewhere, LIMIT).order_id != order.order_id
    assert order.occurred_at.year == 2025


def test_the_record_key_names_the_order() -> None:
    """A keyed record keeps its key as the order id."""
    keyed = Where(HERE.topic, 0, 7, None, b"ord-from-kcat")
    assert read_order(b"20 blankets to Gullwing Camp", keyed, LIMIT).order_id == "ord-from-kcat"


def test_business_fields_alone_get_the_envelope_filled_in() -> None:
    """{"order_id", "text"} without message_id, occurred_at or schema_version is accepted."""
    body = json.dumps({"order_id": "ord-7", "text": "6 tents to Solane", "submitted_by": "ana"})
    order = read_order(body.encode(), HERE, LIMIT)
    assert (order.order_id, order.text, order.submitted_by) == ("ord-7", "6 tents to Solane", "ana")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"text": "6 tents", ', "invalid_json"),  # meant as JSON, broken
        (b'{"text": "6 tents", "priority": "urgent"}', "schema_violation"),  # a field we never read
        (b'{"schema_version": "2.0", "text": "6 tents"}', "unknown_schema_version"),
        (b'{"order_id": "x"}', "unknown_schema_version"),  # no text: not an order
        (b"6 tents\x00", "nul_byte"),
        (b"\xff\xfe tents", "invalid_utf8"),
        (b"   ", "invalid_json"),
    ],
)
def test_everything_else_still_dead_letters_with_its_reason(raw: bytes, reason: str) -> None:
    """What no ordinary client means as an order is refused with the codec's reason."""
    with pytest.raises(DecodeError) as err:
        read_order(raw, HERE, LIMIT)
    assert err.value.reason == reason
