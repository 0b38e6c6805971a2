"""The upcaster seam of `decode`: an older payload is lifted to the current shape before it is
validated, and nothing else about strict decoding changes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.envelope import Envelope
from schemas.orders import OrderSubmitted
from services.common import codec
from services.common.codec import DecodeError, decode, register_upcaster

LIMIT = 10_000


class Crate(Envelope):
    """A test-only contract whose v1.1 renamed `colour` to `paint`."""

    crate_id: str
    paint: str


def _payload(version: str, **fields: Any) -> bytes:
    envelope = {"message_id": "m-1", "occurred_at": "2026-11-27T08:00:00Z"}
    return json.dumps({**envelope, "schema_version": version, "crate_id": "c-1", **fields}).encode()


def _reason(model: type[Envelope], raw: bytes) -> str:
    with pytest.raises(DecodeError) as caught:
        decode(model, raw, LIMIT)
    return caught.value.reason


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[Any, Any]:
    """A registry of this test's own, so no upcaster leaks into other tests."""
    fresh: dict[Any, Any] = {}
    monkeypatch.setattr(codec, "UPCASTERS", fresh)
    return fresh


@pytest.fixture
def calls() -> list[str]:
    found: list[str] = []

    @register_upcaster(Crate, "1.0", "1.1")
    def rename(data: dict[str, Any]) -> dict[str, Any]:
        found.append(data["schema_version"])
        data["paint"] = data.pop("colour")
        return data

    return found


def test_without_an_upcaster_the_old_shape_is_a_schema_violation() -> None:
    assert _reason(Crate, _payload("1.0", colour="olive")) == "schema_violation"


def test_a_registered_upcaster_lifts_the_old_payload_before_validation(calls: list[str]) -> None:
    crate = decode(Crate, _payload("1.0", colour="olive"), LIMIT)
    assert (crate.paint, crate.schema_version) == ("olive", "1.1")
    assert calls == ["1.0"]


def test_a_current_payload_is_not_upcast(calls: list[str]) -> None:
    crate = decode(Crate, _payload("1.1", paint="sand"), LIMIT)
    assert crate.paint == "sand"
    assert calls == []


def test_an_unknown_future_version_is_still_refused(calls: list[str]) -> None:
    assert _reason(Crate, _payload("2.0", paint="sand")) == "unknown_schema_version"
    assert _reason(Crate, _payload("", paint="sand")) == "unknown_schema_version"
    order = {"message_id": "m", "occurred_at": "2026-11-27T08:00:00Z", "schema_version": "2.0"}
    raw = json.dumps({**order, "order_id": "o", "text": "6 tents"}).encode()
    assert _reason(OrderSubmitted, raw) == "unknown_schema_version"
    assert calls == []


def test_upcasters_chain_and_may_lift_a_pre_1_payload_into_1x(calls: list[str]) -> None:
    @register_upcaster(Crate, "0.9", "1.0")
    def name_the_colour(data: dict[str, Any]) -> dict[str, Any]:
        data["colour"] = data.pop("color")
        return data

    crate = decode(Crate, _payload("0.9", color="grey"), LIMIT)
    assert (crate.paint, crate.schema_version) == ("grey", "1.1")
    assert calls == ["1.0"]  # the 1.0 → 1.1 step saw the 0.9 → 1.0 step's output


def test_an_upcaster_belongs_to_its_contract_alone(calls: list[str]) -> None:
    class Barrel(Envelope):
        crate_id: str
        colour: str

    barrel = decode(Barrel, _payload("1.0", colour="olive"), LIMIT)
    assert barrel.colour == "olive"
    assert calls == []


def test_an_upcaster_that_fails_is_a_schema_violation(calls: list[str]) -> None:
    assert _reason(Crate, _payload("1.0", paint="no colour here")) == "schema_violation"
    assert calls == ["1.0"]


def test_the_byte_level_checks_come_before_any_upcaster(calls: list[str]) -> None:
    duplicate = b'{"schema_version": "1.0", "colour": "a", "colour": "b"}'
    assert _reason(Crate, duplicate) == "duplicate_key"
    assert _reason(Crate, _payload("1.0", colour="ol\x00ive")) == "nul_byte"
    assert _reason(Crate, b"x" * (LIMIT + 1)) == "oversized"
    assert calls == []


def test_a_second_upcaster_for_a_version_or_a_loop_is_refused(calls: list[str]) -> None:
    with pytest.raises(ValueError, match="already has an upcaster"):
        register_upcaster(Crate, "1.0", "1.2")(lambda data: data)
    with pytest.raises(ValueError, match="closes a loop"):
        register_upcaster(Crate, "1.1", "1.0")(lambda data: data)
    with pytest.raises(ValueError, match="closes a loop"):
        register_upcaster(Crate, "1.3", "1.3")(lambda data: data)


def test_the_registry_is_the_one_decode_reads(registry: dict[Any, Any], calls: list[str]) -> None:
    assert set(registry) == {(Crate, "1.0")}
    registry.clear()
    assert _reason(Crate, _payload("1.0", colour="olive")) == "schema_violation"
