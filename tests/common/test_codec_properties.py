"""Property-based: contract payloads round-trip; every mutation is a DecodeError with its reason."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas.orders import DemandLine, OrderParsed, OrderSubmitted, Priority
from schemas.plans import Decision, PlanDecided
from services.common.codec import DecodeError, decode, encode

LIMIT = 1 << 20
settings.register_profile("codec", max_examples=150, deadline=None)
settings.load_profile("codec")

ids = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=40)


def _no_nul(value: str) -> bool:
    # NUL is refused by design; the literal text "\\u0000" is allowed (it is not a NUL).
    return "\x00" not in value


# Any Unicode except NUL and lone surrogates (not encodable).
texts = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=300).filter(
    _no_nul
)
# hypothesis takes naive bounds and attaches the timezones itself.
moments = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
versions = st.from_regex(r"1\.[0-9]{1,3}", fullmatch=True)

submitted = st.builds(
    OrderSubmitted,
    message_id=ids,
    occurred_at=moments,
    schema_version=versions,
    order_id=ids,
    text=texts,
    submitted_by=st.none() | st.text(max_size=50).filter(_no_nul),
)
lines = st.lists(
    st.builds(
        DemandLine,
        sku=st.from_regex(r"[A-Z][A-Z0-9-]{0,20}", fullmatch=True),
        quantity=st.integers(1, 1_000_000),
        unit=st.sampled_from(["pallet", "case", "crate", "each", "gallon", "box"]),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda line: line.sku,
).map(tuple)
parsed = st.builds(
    OrderParsed,
    message_id=ids,
    occurred_at=moments,
    schema_version=versions,
    order_id=ids,
    destination=st.from_regex(r"[A-Z][A-Z0-9-]{0,30}", fullmatch=True),
    lines=lines,
    priority=st.sampled_from(list(Priority)),
    text=texts,
    confidence=st.dictionaries(st.sampled_from(["destination", "lines"]), st.floats(0, 1)),
)
decided = st.builds(
    lambda message_id, at, plan_id, verdict, reason: PlanDecided(
        message_id=message_id,
        occurred_at=at,
        plan_id=plan_id,
        plan_hash="a" * 64,
        decision=verdict,
        operator_id="duty-officer",
        role="approver",
        reason=reason,
        decided_at=at,
        expires_at=at + timedelta(hours=1),
    ),
    ids,
    moments,
    ids,
    st.sampled_from(list(Decision)),
    st.text(max_size=100).filter(_no_nul),
)
contracts = st.one_of(submitted, parsed, decided)

REQUIRED = {
    OrderSubmitted: ("message_id", "occurred_at", "order_id", "text"),
    OrderParsed: ("message_id", "occurred_at", "order_id", "destination", "lines", "text"),
    PlanDecided: ("message_id", "occurred_at", "plan_id", "plan_hash", "decision", "operator_id"),
}


def _rejects(model: type[BaseModel], raw: bytes, reason: str, limit: int = LIMIT) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(model, raw, limit)
    assert caught.value.reason == reason, caught.value.detail


@given(contracts)
def test_a_valid_contract_message_round_trips_through_the_codec(message: BaseModel) -> None:
    assert decode(type(message), encode(message), LIMIT) == message


@given(contracts)
def test_encoding_is_canonical_so_a_round_trip_gives_the_same_bytes(message: BaseModel) -> None:
    raw = encode(message)
    assert encode(decode(type(message), raw, LIMIT)) == raw


@given(contracts, st.data())
def test_dropping_a_required_field_is_a_schema_violation(
    message: BaseModel, data: st.DataObject
) -> None:
    field = data.draw(st.sampled_from(REQUIRED[type(message)]))
    payload = json.loads(encode(message))
    del payload[field]
    _rejects(type(message), json.dumps(payload).encode(), "schema_violation")


@given(contracts)
def test_dropping_the_schema_version_is_an_unknown_schema_version(message: BaseModel) -> None:
    payload = json.loads(encode(message))
    del payload["schema_version"]
    _rejects(type(message), json.dumps(payload).encode(), "unknown_schema_version")


@given(contracts, st.data())
def test_repeating_a_key_is_a_duplicate_key(message: BaseModel, data: st.DataObject) -> None:
    payload = json.loads(encode(message))
    key = data.draw(st.sampled_from(sorted(payload)))
    raw = b'{"' + key.encode() + b'": null, ' + encode(message)[1:]
    _rejects(type(message), raw, "duplicate_key")


@given(contracts, st.data())
def test_a_byte_flipped_to_invalid_utf8_is_invalid_utf8(
    message: BaseModel, data: st.DataObject
) -> None:
    raw = bytearray(encode(message))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] = data.draw(st.sampled_from([0xFF, 0xFE, 0xC0, 0xC1, 0xF8]))
    _rejects(type(message), bytes(raw), "invalid_utf8")


@given(contracts, st.integers(0, 99).filter(lambda major: major != 1), st.integers(0, 99))
def test_another_schema_major_is_an_unknown_schema_version(
    message: BaseModel, major: int, minor: int
) -> None:
    payload = {**json.loads(encode(message)), "schema_version": f"{major}.{minor}"}
    _rejects(type(message), json.dumps(payload).encode(), "unknown_schema_version")


@given(contracts, st.data(), st.booleans())
def test_a_nul_anywhere_is_a_nul_byte(
    message: BaseModel, data: st.DataObject, escaped: bool
) -> None:
    text = encode(message).decode()
    if escaped:  # inside a JSON string, as the \u0000 escape
        at = text.index('":"') + 3
        nul = "\\u0000"
    else:  # a raw NUL byte at any character boundary
        at = data.draw(st.integers(0, len(text)))
        nul = "\x00"
    _rejects(type(message), (text[:at] + nul + text[at:]).encode(), "nul_byte")


@given(contracts, st.integers(1, 100))
def test_a_payload_over_the_limit_is_oversized_before_anything_is_read(
    message: BaseModel, over: int
) -> None:
    raw = encode(message)
    _rejects(type(message), raw, "oversized", limit=max(0, len(raw) - over))


@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_a_decode_error_or_a_valid_message(raw: bytes) -> None:
    reason = "ok"
    try:
        message = decode(OrderSubmitted, raw, LIMIT)
    except DecodeError as err:
        reason = err.reason
    else:
        assert isinstance(message, OrderSubmitted)
    assert reason in {
        "ok",
        "invalid_utf8",
        "nul_byte",
        "invalid_json",
        "duplicate_key",
        "unknown_schema_version",
        "schema_violation",
    }


def test_the_literal_text_backslash_u0000_is_not_a_nul() -> None:
    order = OrderSubmitted(
        message_id="m-1",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        order_id="o-1",
        text="escape sequences such as \\u0000 are not NULs",
    )
    assert decode(OrderSubmitted, encode(order), LIMIT) == order
