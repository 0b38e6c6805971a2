"""Strict decoding: every malformed payload is named, never half-read."""

from __future__ import annotations

import json

import pytest

from schemas.orders import OrderSubmitted
from services.common.codec import DecodeError, decode, encode

GOOD = {
    "message_id": "m-1",
    "occurred_at": "2026-11-27T08:00:00Z",
    "schema_version": "1.0",
    "order_id": "ord-1",
    "text": "12 pallets of water to FOB Halcyon",
    "submitted_by": None,
}


def test_a_valid_message_round_trips():
    order = decode(OrderSubmitted, json.dumps(GOOD).encode(), 10_000)
    assert decode(OrderSubmitted, encode(order), 10_000) == order
    assert order.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe\x00", "invalid_utf8"),
        (json.dumps({**GOOD, "text": "a\x00b"}).encode(), "nul_byte"),
        (b'{"message_id": "a", "message_id": "b"}', "duplicate_key"),
        (json.dumps({**GOOD, "schema_version": "2.0"}).encode(), "unknown_schema_version"),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "order_id"}).encode(),
            "schema_violation",
        ),
        (json.dumps({**GOOD, "occurred_at": "2026-11-27T08:00:00"}).encode(), "schema_violation"),
        (json.dumps([GOOD]).encode(), "invalid_json"),
        (json.dumps({**GOOD, "text": "x" * 5000}).encode(), "oversized"),
    ],
)
def test_malformed_payloads_are_named(raw, reason):
    with pytest.raises(DecodeError) as caught:
        decode(OrderSubmitted, raw, 4096)
    assert caught.value.reason == reason
