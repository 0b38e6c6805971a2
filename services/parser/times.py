"""Time phrases -> a UTC delivery window (not_before, deliver_by) against the submission time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from services.parser.alternation import factored

_I = re.IGNORECASE
_MONTHS = {
    "jan": 1,
    "janvier": 1,
    "enero": 1,
    "feb": 2,
    "fév": 2,
    "fev": 2,
    "février": 2,
    "febrero": 2,
    "mar": 3,
    "mars": 3,
    "marzo": 3,
    "apr": 4,
    "avr": 4,
    "avril": 4,
    "abril": 4,
    "may": 5,
    "mai": 5,
    "mayo": 5,
    "jun": 6,
    "juin": 6,
    "junio": 6,
    "jul": 7,
    "juil": 7,
    "juillet": 7,
    "julio": 7,
    "aug": 8,
    "août": 8,
    "agosto": 8,
    "sep": 9,
    "sept": 9,
    "septembre": 9,
    "septiembre": 9,
    "oct": 10,
    "octobre": 10,
    "octubre": 10,
    "nov": 11,
    "novembre": 11,
    "noviembre": 11,
    "dec": 12,
    "déc": 12,
    "décembre": 12,
    "diciembre": 12,
}
_WEEKDAYS = {
    "monday": 0,
    "lundi": 0,
    "lunes": 0,
    "tuesday": 1,
    "tues": 1,
    "mardi": 1,
    "martes": 1,
    "wednesday": 2,
    "weds": 2,
    "mercredi": 2,
    "miércoles": 2,
    "miercoles": 2,
    "thursday": 3,
    "thurs": 3,
    "jeudi": 3,
    "jueves": 3,
    "friday": 4,
    "vendredi": 4,
    "viernes": 4,
    "saturday": 5,
    "samedi": 5,
    "sábado": 5,
    "sabado": 5,
    "sunday": 6,
    "dimanche": 6,
    "domingo": 6,
}
_PERIODS = {
    "morning": (6, 12),
    "matin": (6, 12),
    "matinée": (6, 12),
    "afternoon": (12, 18),
    "après-midi": (12, 18),
    "apres-midi": (12, 18),
    "tarde": (12, 18),
}
# Every pattern that uses these ignores case.
_MONTH_RE = rf"(?:{factored(sorted(_MONTHS, key=len, reverse=True), ignore_case=True)})[a-z]*\.?"
_WD_RE = rf"(?:{factored(sorted(_WEEKDAYS, key=len, reverse=True), ignore_case=True)})"
_ZONE = r"(?:\s*(?:z\b|zulu\b|utc\b|gmt\b|hrs?\b|hours\b))?"
# Every alternative starts at a word boundary before a word character; saying so first (the
# same matches) spares `re` trying each alternative at every other position.
_ELEMENT = re.compile(
    rf"\b(?=\w)(?:(?P<dtg>\b\d{{6}}\s*z\s*{_MONTH_RE}\s*\d{{2}}\b)|(?P<sdtg>\b\d{{6}}z\b)|"
    rf"(?P<date1>\b\d{{1,2}}(?:st|nd|rd|th|er)?\s+(?:de\s+)?{_MONTH_RE}(?:\s+\d{{4}}\b)?)|"
    rf"(?P<date2>\b{_MONTH_RE}\s+\d{{1,2}}(?:st|nd|rd|th)?\b)|"
    rf"(?P<nth>\bthe\s+\d{{1,2}}(?:st|nd|rd|th)\b)|"
    r"(?P<within>\b(?:within|in the next|dans les|en)\s+(?P<n>\d+)\s*"
    r"(?P<u>hours?|hrs?|h|heures|horas|days?|jours|días)\b)|"
    rf"(?P<clock>\b(?:[01]\d|2[0-3])(?::|h)?[0-5]\d{_ZONE})|"
    r"(?P<ampm>\b\d{1,2}(?::[0-5]\d)?\s*[ap]\.?m\.?)|"
    r"(?P<noon>\b(?:noon|midday|midi|mediod[ií]a)\b)|"
    r"(?P<relday>\b(?:today|tonight|tomorrow|tmrw|tmw|tomorow|demain|aujourd'hui|hoy|"
    r"(?<!la )(?<!por )mañana(?! por))\b(?!'s))|"
    rf"(?P<weekday>\b{_WD_RE}\b(?!'s))|"
    r"(?P<period>\b(?:morning|matin(?:ée)?|afternoon|apr[eè]s-midi|"
    r"(?:por|en|de) la (?:mañana|tarde))\b))",
    _I,
)
_FILLER = re.compile(r"^[\s,]*(?:(?:on|the|at|of|de|del|le|el|@|\(|\))[\s,]*)*$", _I)
_DEADLINE = (
    r"nlt|no later than|not later than|by|before|rdd|required by|needed by|must arrive by|until|"
    r"till|avant|antes del?|antes de las|para el|deadline|latest(?: delivery)?|hasta|"
    r"requerido antes de"
)
_EARLIEST = (
    r"net|not earlier than|no earlier than|not before|after|any ?time after|from|après|"
    r"earliest(?: delivery)?|"
    r"à partir d[eu]|a partir d[eu]|después de|desde"
)
_KEYWORD = re.compile(
    rf"(?:(?P<between>\bbetween|\bentre|\bwindow)|(?P<earliest>\b(?:{_EARLIEST}))|"
    rf"(?P<deadline>\b(?:{_DEADLINE})))\b\s*:?\s*(?:the\s+)?(?:[a-z]+\s+)?$",
    _I,
)
_PAST = re.compile(r"\b(?:since|last|ago|yesterday|hier|ayer|wrote|sent)\b[^.\n]{0,12}$", _I)
_AND = re.compile(r"^\s*(?:and|to|until|till|et|y|a|-|–)\s*$", _I)
_UNRESOLVED = re.compile(
    r"\b(?:before|ahead of|in time for|prior to|avant|antes de)\s+(?:the|our|their|next)\s+\w+", _I
)


@dataclass(frozen=True)
class Window:
    """A resolved delivery window; either end may be open."""

    not_before: datetime | None
    deliver_by: datetime | None
    unresolved: bool = False


@dataclass
class _Group:
    start: int
    end: int
    parts: dict[str, re.Match[str]] = field(default_factory=dict)
    role: str = ""
    used: bool = False


def _groups(text: str) -> list[_Group]:
    groups: list[_Group] = []
    for match in _ELEMENT.finditer(text):
        kind = match.lastgroup or ""
        if kind == "clock" and not _clock_ok(text, match):
            continue
        if kind in ("n", "u"):
            kind = "within"
        last = groups[-1] if groups else None
        if last and kind not in last.parts and _FILLER.match(text[last.end : match.start()]):
            last.parts[kind], last.end = match, match.end()
            continue
        groups.append(_Group(match.start(), match.end(), {kind: match}))
    return groups


def time_spans(text: str) -> list[tuple[int, int]]:
    """Where the text names a time or a date (what `resolve_window` reads), as [start, end)."""
    return [(group.start, group.end) for group in _groups(text)]


_ZONED = re.compile(r"[zcutghr]\s*$", _I)
_VOLUME_AFTER = re.compile(r"^\s*(?:gal|gallons?|l\b|liters?|litres?)", _I)
_CLOCK_BEFORE = re.compile(
    rf"(?:\b(?:{_DEADLINE}|{_EARLIEST}|between|and|at|{_WD_RE}|today|tomorrow|tmrw)|"
    r"\d{4}z?\s*[-–])\s*$",
    _I,
)
_CLOCK_AFTER = re.compile(rf"\s*(?:today|tomorrow|tmrw|on\b|{_WD_RE})", _I)


def _clock_ok(text: str, match: re.Match[str]) -> bool:
    raw = match.group()
    if _ZONED.search(raw) or ":" in raw or "h" in raw.lower():
        return not _VOLUME_AFTER.match(text[match.end() :])
    before = text[max(0, match.start() - 24) : match.start()]
    after = text[match.end() : match.end() + 14]
    return bool(_CLOCK_BEFORE.search(before) or _CLOCK_AFTER.match(after))


def _day(group: _Group, submitted: datetime, month_hint: int | None) -> date | None:
    parts, sub = group.parts, submitted.date()
    if "date1" in parts or "date2" in parts:
        raw = (parts.get("date1") or parts["date2"]).group().lower()
        day = int(re.search(r"\d{1,2}", raw).group())  # type: ignore[union-attr]
        month = next(v for k, v in sorted(_MONTHS.items(), key=lambda kv: -len(kv[0])) if k in raw)
        year = re.search(r"\d{4}", raw)
        return _safe_date(int(year.group()) if year else 2026, month, day)
    if "sdtg" in parts:
        return _safe_date(sub.year, month_hint or sub.month, int(parts["sdtg"].group()[:2]))
    if "nth" in parts:
        return _safe_date(sub.year, sub.month, int(re.search(r"\d+", parts["nth"].group()).group()))  # type: ignore[union-attr]
    if "relday" in parts:
        word = parts["relday"].group().lower()
        return (
            sub if word in ("today", "tonight", "aujourd'hui", "hoy") else sub + timedelta(days=1)
        )
    if "weekday" in parts:
        target = _WEEKDAYS[parts["weekday"].group().lower()]
        return sub + timedelta(days=(target - sub.weekday() - 1) % 7 + 1)
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _clock(group: _Group) -> time | None:
    parts = group.parts
    if "sdtg" in parts:
        raw = parts["sdtg"].group()
        return time(int(raw[2:4]), int(raw[4:6]))
    if "clock" in parts:
        digits = re.sub(r"\D", "", parts["clock"].group())[:4]
        return time(int(digits[:2]), int(digits[2:]))
    if "ampm" in parts:
        raw = parts["ampm"].group().lower()
        hour, minute = (int(x) for x in [*re.findall(r"\d+", raw), "0"][:2])
        hour = hour % 12 + (12 if "p" in raw else 0)
        return time(hour, minute)
    return time(12, 0) if "noon" in parts else None


def _span(
    group: _Group, submitted: datetime, month_hint: int | None
) -> tuple[datetime, datetime] | None:
    """(start, end) of a group; start == end for an instant."""
    parts = group.parts
    if "dtg" in parts:
        raw = re.sub(r"\s", "", parts["dtg"].group().upper())
        month = _MONTHS.get(raw[7:10].lower())
        if month is None:
            return None
        instant = datetime(
            2000 + int(raw[-2:]), month, int(raw[:2]), int(raw[2:4]), int(raw[4:6]), tzinfo=UTC
        )
        return instant, instant
    if "within" in parts:
        match = parts["within"]
        hours = int(match["n"]) * (24 if match["u"].lower()[0] in "dj" else 1)
        return submitted, submitted + timedelta(hours=hours)
    day, clock = _day(group, submitted, month_hint), _clock(group)
    if clock is not None:
        if day is None:
            instant = datetime.combine(submitted.date(), clock, UTC)
            instant += timedelta(days=1) if instant <= submitted else timedelta()
        else:
            instant = datetime.combine(day, clock, UTC)
        return instant, instant
    if day is None:
        return None
    if "period" in parts:
        word = parts["period"].group().lower().split()[-1]
        start_h, end_h = _PERIODS.get(word, (6, 12) if word == "mañana" else (12, 18))
        return datetime.combine(day, time(start_h), UTC), datetime.combine(day, time(end_h), UTC)
    return datetime.combine(day, time(0), UTC), datetime.combine(day, time(23, 59), UTC)


def _roles(text: str, groups: list[_Group]) -> None:
    prev_end = 0
    for index, group in enumerate(groups):
        lead = text[max(prev_end, group.start - 40) : group.start]
        keyword = _KEYWORD.search(lead)
        if _PAST.search(text[max(0, group.start - 20) : group.start]):
            group.role = "past"
        elif keyword:
            group.role = keyword.lastgroup or ""
        if (
            index
            and group.role in ("between", "deadline", "earliest")
            and _only_day(groups[index - 1])
        ):
            previous = groups[index - 1]
            if re.fullmatch(
                r"[\s,]*" + re.escape(keyword.group() if keyword else ""),
                text[previous.end : group.start],
                _I,
            ):
                for kind, match in previous.parts.items():
                    group.parts.setdefault(kind, match)
                previous.used = True
        prev_end = group.end


def _only_day(group: _Group) -> bool:
    return not ({"clock", "dtg", "sdtg", "ampm", "noon", "within", "period"} & set(group.parts))


def resolve_window(text: str, submitted: datetime) -> Window:
    """Resolve the order's delivery window per the theater rules (UTC, relative to submission)."""
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))
    groups = _groups(text)
    _roles(text, groups)
    full = [g for g in groups if "dtg" in g.parts]
    month_hint = (
        _MONTHS.get(re.sub(r"[\s\d]", "", full[0].parts["dtg"].group().lower())[1:4])
        if full
        else None
    )
    not_before: datetime | None = None
    deliver_by: datetime | None = None
    loose: list[tuple[datetime, datetime]] = []
    index = 0
    while index < len(groups):
        group = groups[index]
        index += 1
        span = None if group.used or group.role == "past" else _span(group, submitted, month_hint)
        if span is None:
            continue
        nxt = groups[index] if index < len(groups) else None
        if (
            nxt
            and _AND.match(text[group.end : nxt.start])
            and (
                group.role == "between"
                or "-" in text[group.end : nxt.start]
                or "window" in text[max(0, group.start - 30) : group.start].lower()
            )
        ):
            for kind in ("weekday", "relday", "date1", "date2", "nth"):
                if kind in nxt.parts and kind not in group.parts and _only_day(group) is False:
                    group.parts[kind] = nxt.parts[kind]
                if kind in group.parts and kind not in nxt.parts:
                    nxt.parts.setdefault(kind, group.parts[kind])
            first, second = _span(group, submitted, month_hint), _span(nxt, submitted, month_hint)
            index += 1
            if first and second and not_before is None and deliver_by is None:
                not_before, deliver_by = first[0], second[1]
            continue
        if "within" in group.parts or group.role == "deadline":
            deliver_by = deliver_by or span[1]
        elif group.role == "earliest":
            not_before = not_before or span[0]
        elif group.role == "" and span[0] != span[1]:
            loose.append(span)
    if not_before is None and deliver_by is None and loose:
        not_before, deliver_by = loose[0]
    unresolved = not_before is None and deliver_by is None and bool(_UNRESOLVED.search(text))
    return Window(not_before, deliver_by, unresolved)
