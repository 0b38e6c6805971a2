"""What `qm fleet` and `qm zones` share: signing a report, times and points as typed, reading the
latest report per key back from a compacted topic."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta
from typing import Any, TypeVar

from schemas.envelope import canonical_json, utcnow
from schemas.theater import Position, Reported
from schemas.topics import Topic
from services.cli.context import fail, run, settings
from services.cli.signer import sender
from services.common.codec import DecodeError, decode
from services.common.kafka import KafkaUnavailable, read_topics
from services.common.signing import REPORTING_ROLES, key_id_of

R = TypeVar("R", bound=Reported)
_RELATIVE = re.compile(r"^\+(\d+)([mhd])$")


def signed(report: R, operator: str) -> R:
    """The report with the operator's key id and signature (their key must be trusted)."""
    found = sender(operator, required=True)
    assert found is not None  # required=True fails instead
    if found.role not in REPORTING_ROLES:
        fail(
            f"{operator}'s key is trusted as {found.role}; the planner takes vehicle and area "
            f"reports only from {' or '.join(r + 's' for r in REPORTING_ROLES)}"
        )
    if found.role != report.role:
        report = report.model_copy(update={"role": found.role})
    stamped = report.model_copy(update={"key_id": key_id_of(found.key.public_key())})
    signature = found.key.sign(canonical_json(stamped.signed_payload()))
    return stamped.model_copy(update={"signature": base64.b64encode(signature).decode()})


def when(text: str | None, what: str) -> datetime | None:
    """A time as typed: ISO 8601 with a zone (2026-12-06T23:00Z) or from now (+90m, +2h, +1d)."""
    if text is None:
        return None
    relative = _RELATIVE.match(text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        minutes = amount * {"m": 1, "h": 60, "d": 1440}[unit]
        return utcnow().replace(second=0, microsecond=0) + timedelta(minutes=minutes)
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"{what} {text!r} is not a time; give e.g. 2026-12-06T23:00Z or +2h")
    if parsed.tzinfo is None:
        fail(f"{what} {text!r} has no time zone; add Z for UTC (e.g. 2026-12-06T23:00Z)")
    return parsed


def point(text: str, what: str) -> Position:
    """LAT,LON in degrees."""
    try:
        lat, lon = (float(part) for part in text.split(","))
        return Position(lat=lat, lon=lon)
    except ValueError:
        fail(f"{what} {text!r} is not LAT,LON in degrees (e.g. 41.25,-71.85)")


def latest(topic: Topic, model: type[R], key_of: str) -> dict[str, R]:
    """The latest report per key on a compacted topic (a tombstone removes its key)."""
    common = settings()
    try:
        records = run(read_topics(common.kafka_bootstrap, [topic.value]))
    except KafkaUnavailable as err:
        fail(str(err))
    found: dict[str, R] = {}
    for record in records:
        key = (record.key or b"").decode(errors="replace")
        if not record.value:
            found.pop(key, None)
            continue
        try:
            report = decode(model, record.value, common.max_message_bytes)
        except DecodeError:
            continue  # the planner dead-letters it
        name: str = getattr(report, key_of)
        held = found.get(name)
        if held is None or _time(held) <= _time(report):
            found[name] = report
    return found


def _time(report: Any) -> datetime:
    stamp: datetime = getattr(report, "reported_at", None) or report.declared_at
    return stamp
