"""Orders from any Kafka client: the full contract, its business fields alone, or plain text.

`kcat -P -t orders.submitted.v1` or the console producer sends the order's words as the record
value; a JSON object with `text` (and optionally `order_id`, `submitted_by`) is filled in with
the envelope. The id comes from the record key when there is one, otherwise from where the
record sits in the log, so a redelivery never mints a second id. Anything else — JSON that does
not parse, a future schema version, unknown fields, NUL bytes, oversize — still dead-letters
with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.envelope import content_id
from schemas.orders import OrderSubmitted
from services.common.codec import DecodeError, decode

SUBMITTED_BY_HEADERS = ("qm-submitted-by", "submitted-by", "from")


@dataclass(frozen=True)
class Where:
    """The record's place in the log and what the client sent beside the value."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()


def _submitted_by(where: Where) -> str | None:
    for name, value in where.headers:
        if name.lower() in SUBMITTED_BY_HEADERS and value:
            return value.decode("utf-8", errors="replace")[:200]
    return None


def _envelope(where: Where, fields: dict[str, object]) -> bytes:
    """The business fields with an envelope derived from the record, as contract bytes."""
    key = where.key.decode("utf-8", errors="replace") if where.key else ""
    order_id = (
        fields.get("order_id")
        or key
        or content_id("ord", where.topic, where.partition, where.offset)
    )
    at = (
        datetime.fromtimestamp(where.timestamp_ms / 1000, UTC)
        if where.timestamp_ms is not None
        else datetime.now(UTC)
    )
    by = fields.get("submitted_by", _submitted_by(where))
    envelope = {
        "message_id": content_id("msg", "intake", where.topic, where.partition, where.offset),
        "occurred_at": at.isoformat(),
        "schema_version": "1.0",
        "order_id": order_id,
        **({"submitted_by": by} if by is not None else {}),
    }
    return json.dumps({**fields, **envelope}).encode("utf-8")


def read_order(value: bytes, where: Where, max_bytes: int) -> OrderSubmitted:
    """The order a record carries, however an ordinary client wrote it; DecodeError otherwise."""
    try:
        return decode(OrderSubmitted, value, max_bytes)
    except DecodeError as err:
        if err.reason == "invalid_json":
            text = value.decode("utf-8").strip()  # decode() checked UTF-8, NUL and size
            if not text or text[0] in "{[":
                raise  # meant as JSON, and broken: say so
            return decode(OrderSubmitted, _envelope(where, {"text": text}), max_bytes)
        if err.reason != "unknown_schema_version":
            raise
        fields = json.loads(value)
        if "schema_version" in fields or not isinstance(fields.get("text"), str):
            raise
        return decode(OrderSubmitted, _envelope(where, fields), max_bytes)


def where_of(record: object) -> Where:
    """The log position, key and headers of a consumer record."""
    return Where(
        topic=str(getattr(record, "topic", "")),
        partition=int(getattr(record, "partition", 0) or 0),
        offset=int(getattr(record, "offset", 0) or 0),
        timestamp_ms=getattr(record, "timestamp", None),
        key=getattr(record, "key", None),
        headers=tuple(getattr(record, "headers", None) or ()),
    )
