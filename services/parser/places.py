"""Place resolution: location aliases, misspellings and MGRS grids -> the destination id."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.common.scenario import Scenario, per_scenario
from services.parser import mgrs
from services.parser.alternation import factored

_NEGATED = re.compile(
    r"(?:\bnot(?: to)?|\binstead of|\brather than|\bno longer(?: to)?|\bnot going to)"
    r"\s+(?:the\s+)?$",
    re.IGNORECASE,
)
_CORRECTION = re.compile(
    r"\b(?:correction|corrected|destination (?:is|changed? to)|change (?:the )?destination to|"
    r"instead|amend(?:ed|ment)?|update[d]?:)\b",
    re.IGNORECASE,
)
# The words that send supplies to a place ("to", "for", "destination:"), as opposed to places
# only mentioned ("we're at", "after the flooding at", "writing from").
_TOWARDS = re.compile(
    r"(?:\bto|\bfor|\binto|\bpour|\bà|\bpara|\bhacia|\btowards|\bdestination|\bdelivery point|"
    r"\bsite|\bdrop(?:\s+(?:off|at))?|\bdeliver(?:y|ed)?(?:\s+at)?|\bdel|\blivraison|\bentrega|"
    r"\bdestino)\s*:?\s*(?:the\s+|la\s+|le\s+|el\s+|l')?(?:(?:grid|village|camp|hospital|"
    r"checkpoint|fob|cop)\s+)?$",
    re.IGNORECASE,
)
_ALTERNATIVE = re.compile(r"^\s*(?:or|and/or|/)\s+(?:the\s+)?$|^\s*,?\s*or\s+", re.IGNORECASE)


def alias_body(alias: str) -> str:
    """Regex body for an alias with spaces/hyphens interchangeable and apostrophes optional."""
    parts = [re.escape(p) for p in re.split(r"[\s\-]+", alias.strip()) if p]
    return r"[\s\-]*".join(parts).replace("'", "'?")


def alias_regex(aliases: list[str], after: str = r"(?![\w\-]|\.\d)") -> re.Pattern[str]:
    """One case-insensitive regex for many aliases (longest first), bounded on both sides."""
    bodies = factored(
        (alias_body(a) for a in sorted(aliases, key=len, reverse=True)), ignore_case=True
    )
    return re.compile(rf"(?<![\w\-])(?:{bodies}){after}", re.IGNORECASE)


@dataclass(frozen=True)
class Mention:
    """A place named (or gridded) in the text."""

    location: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class PlaceResult:
    """The chosen destination, or why none could be chosen."""

    location: str | None
    reason: str
    mentions: tuple[Mention, ...]


class Gazetteer:
    """Compiled alias and grid lookups for one scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.depots = frozenset(loc.id for loc in scenario.locations if loc.kind == "depot")
        pairs = sorted(
            ((name, loc.id) for loc in scenario.locations for name in loc.names),
            key=lambda pair: -len(pair[0]),
        )
        self._by_alias = {_key(name): loc_id for name, loc_id in pairs}
        self._regex = alias_regex([name for name, _ in pairs])
        self._words = {
            _key(name): loc_id for name, loc_id in pairs if " " not in name and len(name) >= 5
        }

    def lookup(self, phrase: str) -> str | None:
        """Location id for an alias phrase (exact alias, a grid, or one mention inside it)."""
        loc_id = self._by_alias.get(_key(phrase))
        if loc_id:
            return loc_id
        grid = mgrs.parse_grid(phrase)
        if grid is not None:
            return mgrs.locate(grid, self.scenario)
        found = {m.location for m in self.mentions(phrase)}
        return found.pop() if len(found) == 1 else None

    def mentions(self, text: str) -> list[Mention]:
        """Every alias or grid that names a location, in text order."""
        found = [
            Mention(self._by_alias[_key(m.group())], m.start(), m.end(), m.group())
            for m in self._regex.finditer(text)
            if _key(m.group()) in self._by_alias
        ]
        for grid, start, end in mgrs.find_grids(text):
            loc_id = mgrs.locate(grid, self.scenario)
            found.append(Mention(loc_id or "", start, end, text[start:end]))
        if not any(m.location for m in found):
            found.extend(self._fuzzy(text))
        return sorted(found, key=lambda m: m.start)

    def _fuzzy(self, text: str) -> list[Mention]:
        out = []
        for word in _CAPITALISED.finditer(text):
            for alias, loc_id in self._words.items():
                if abs(len(alias) - len(word.group())) <= 1 and _within_one(
                    alias, word.group().lower()
                ):
                    out.append(Mention(loc_id, word.start(), word.end(), word.group()))
                    break
        return out


_SEPARATORS = re.compile(r"[\s\-']+")
_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z]{4,}\b")


def _key(name: str) -> str:
    return _SEPARATORS.sub(" ", name.lower()).strip()


def _within_one(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]]
        )
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


gazetteer = per_scenario(Gazetteer)
"""The gazetteer of a scenario, built once (keyed by identity: hashing a scenario is slow)."""


def _quoted(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    return text[line_start:pos].lstrip().startswith(">")


def choose_destination(text: str, gaz: Gazetteer, hint: str | None = None) -> PlaceResult:
    """Pick the delivery destination among the places the text names."""
    mentions = [m for m in gaz.mentions(text) if m.location not in gaz.depots]
    negated = {m.location for m in mentions if m.location and _NEGATED.search(text[: m.start])}
    live = [m for m in mentions if m.location and m.location not in negated]
    if not live:
        grids = [m for m in mentions if not m.location]
        return PlaceResult(None, "grid_unknown" if grids else "no_place", tuple(mentions))
    own = [m for m in live if not _quoted(text, m.start)] or live
    correction = _CORRECTION.search(text)
    if correction:
        after = [m for m in own if m.start > correction.start()]
        own = after or own
    if hint and hint in {m.location for m in own}:
        return PlaceResult(hint, "hint", tuple(mentions))
    towards = [m for m in own if _TOWARDS.search(text[max(0, m.start - 40) : m.start])]
    if towards and towards[0].location != own[0].location and not correction:
        own = towards
    first = own[0]
    for other in own[1:]:
        if other.location != first.location and _ALTERNATIVE.search(text[first.end : other.start]):
            return PlaceResult(None, "alternatives", tuple(mentions))
    return PlaceResult(first.location, "first", tuple(mentions))
