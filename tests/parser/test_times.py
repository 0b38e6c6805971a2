"""Time phrases resolved against the submission time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.parser.times import resolve_window

SUBMITTED = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # a Wednesday


def _at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "not_before", "deliver_by"),
    [
        ("NLT 1400Z", None, _at(5, 14)),
        ("NLT 1800Z", None, _at(4, 18)),
        ("RDD 061030ZMAR26", None, _at(6, 10, 30)),
        ("by tmrw noon", None, _at(5, 12)),
        ("deliver Friday afternoon", _at(6, 12), _at(6, 18)),
        ("any time Wednesday", _at(11, 0), _at(11, 23, 59)),
        ("within 6 hrs", None, _at(4, 21, 30)),
        ("NET 0700Z tomorrow", _at(5, 7), None),
        ("between 0900 and 1100 UTC on 9 March", _at(9, 9), _at(9, 11)),
        ("window 0800Z-1000Z on the 12th", _at(12, 8), _at(12, 10)),
        ("tomorrow before 1000 please", None, _at(5, 10)),
        ("livraison jeudi matin", _at(5, 6), _at(5, 12)),
        ("entrega viernes por la tarde", _at(6, 12), _at(6, 18)),
        ("ASAP", None, None),
    ],
)
def test_phrases_resolve_to_utc_windows(
    text: str, not_before: datetime | None, deliver_by: datetime | None
) -> None:
    """Deadlines, earliest times, periods, whole days and DTGs follow the theater rules."""
    window = resolve_window(text, SUBMITTED)
    assert (window.not_before, window.deliver_by) == (not_before, deliver_by)


def test_past_and_possessive_days_are_context_only() -> None:
    """'since Monday' and 'Friday's convoy' set no window."""
    window = resolve_window("Sick since Monday; add it to Friday's convoy", SUBMITTED)
    assert window.not_before is None and window.deliver_by is None


def test_unresolvable_reference_is_flagged() -> None:
    """'before the harvest festival' cannot be placed on the calendar."""
    assert resolve_window("deliver before the harvest festival", SUBMITTED).unresolved
