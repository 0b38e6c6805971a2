"""One text, several requests: split it by destination, or say it cannot be split.

A text is read as lines and sentences ("units"). A unit that names items is a request; it goes
to the place it names, or to the place of the header above it ("FOB Talon:" on its own line).
When two or more requests go to different places the text is split, one demand per place, each
carrying the text's shared context (signature, priority, times stated once for all). When
items cannot be assigned to one place — a header naming two places, "to Basalt and Magpie",
items with no place beside others that have one — the order goes back for clarification.
Context places (where an incident happened, where the writer is) never make a split: only
units that ask for items count.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from services.parser.history import without_history
from services.parser.items import Catalog, resolve_items
from services.parser.places import Gazetteer, choose_destination

_SENTENCE = re.compile(r"(?:[^.;!?]|[.;!?](?=\d))+[.;!?]*")
# "… to Granite and 40 tents to Riverbend": a clause that starts again with a count.
_CLAUSE = re.compile(r",?\s+(?:and|et|y|plus)\s+(?=\d)|,\s+(?=\d)", re.I)

# Two places joined without a verb between them: items meant for both, split unknown.
_JOINED = re.compile(r"^\s*(?:,|and|et|y|&|/|\+|or|ou|o)\s*(?:the\s+|la\s+|le\s+|el\s+)?$", re.I)
_AMBIGUOUS = "?"


@dataclass(frozen=True)
class Split:
    """The text's reading: one text per destination, or why it cannot be split."""

    parts: tuple[tuple[str, str], ...] = ()  # (destination, text to read for it)
    unclear: str = ""


def _units(text: str, gaz: Gazetteer) -> list[str]:
    """Lines; a line naming several places is read sentence by sentence, clause by clause."""
    units: list[str] = []
    for line in without_history(text).splitlines():
        if not line.strip():
            continue
        places = {m.location for m in gaz.mentions(line) if m.location not in gaz.depots}
        if len(places) < 2:
            units.append(line)
            continue
        for sentence in _SENTENCE.findall(line):
            units.extend(c for c in _CLAUSE.split(sentence) if c.strip())
    return units


def _place_of(unit: str, gaz: Gazetteer) -> str | None:
    """The one place a unit names, `?` for places joined as one target, None for none."""
    mentions = [m for m in gaz.mentions(unit) if m.location and m.location not in gaz.depots]
    if not mentions:
        return None
    distinct = {m.location for m in mentions}
    for first, second in itertools.pairwise(mentions):
        if first.location != second.location and _JOINED.match(unit[first.end : second.start]):
            return _AMBIGUOUS
    if len(distinct) == 1:
        return mentions[0].location
    return choose_destination(unit, gaz).location or _AMBIGUOUS


def split_requests(text: str, gaz: Gazetteer, cat: Catalog) -> Split:
    """How a text divides into demands by destination; an empty Split means 'one order'."""
    header: str | None = None
    header_unit = ""
    assigned: list[tuple[str | None, str, str]] = []  # (place, unit, header unit)
    context: list[str] = []
    for unit in _units(text, gaz):
        place = _place_of(unit, gaz)
        asks = bool(resolve_items(unit, cat).lines)
        if not asks:
            if place is not None and unit.strip().endswith(":"):
                header, header_unit = place, unit
            elif place is None:
                context.append(unit)
            continue
        if place is None and header is not None:
            assigned.append((header, unit, header_unit))
        else:
            assigned.append((place, unit, ""))
    places = {place for place, _, _ in assigned if place not in (None, _AMBIGUOUS)}
    if _AMBIGUOUS in {place for place, _, _ in assigned}:
        return Split(unclear="items are meant for several places; say which go where")
    if len(places) < 2:
        return Split()
    if any(place is None for place, _, _ in assigned):
        return Split(unclear="some items name no destination among several; say where each goes")
    parts = []
    for destination in sorted(places, key=lambda p: _first(p, assigned)):
        own = [(u, h) for p, u, h in assigned if p == destination]
        headers = list(dict.fromkeys(h for _, h in own if h))
        body = headers + [u for u, _ in own]
        parts.append((destination, "\n".join([*body, *context])))
    return Split(parts=tuple(parts))


def _first(place: str, assigned: list[tuple[str | None, str, str]]) -> int:
    return next(i for i, (p, _, _) in enumerate(assigned) if p == place)
