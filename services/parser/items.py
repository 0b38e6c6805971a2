"""Item resolution: catalog aliases and variants, quantities, units, amendments, ambiguity."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from services.common.scenario import Scenario, per_scenario
from services.parser.places import alias_regex
from services.parser.quantities import QTY, UNIT, UNIT_WORDS, compatible, convert, parse_quantity

_I = re.IGNORECASE
_STOP = {"of", "and", "the", "for", "a", "an", "to", "by", "de", "&"}
_GENERIC_EXTRA = {"ammo": "V", "ammunition": "V", "munitions": "V"}
_GENERIC_ALIASES = {
    "gens": "generator",
    "gensets": "generator",
    "genset": "generator",
    "vax": "vaccine",
}
_BEFORE = re.compile(
    rf"(?P<qty>{QTY})\s*(?:(?P<unit>{UNIT})\.?\s*)?(?:(?:of|de|d')\s+(?:the\s+)?)?"
    r"(?P<gap>(?:(?:[A-Za-z][\w&'/\-]*|[A-Za-z]{1,4}\.)\s+){0,3}?)\(?\s*$",
    _I,
)
_AFTER = re.compile(
    rf"^(?:\s*[,:\-]?\s*x\s*(?P<xq>\d[\d,]*)(?!\w)|[^.\n\d?]{{0,40}}?[:,\-]\s*(?P<qty>{QTY})\s*"
    rf"(?P<unit>{UNIT}))",
    _I,
)
_VAGUE = re.compile(r"\b(?:bit|few|lot|lots|little|some|couple|bunch|enough)\b", _I)
_WITHDRAWN_AFTER = re.compile(
    r"^[^.\n]{0,25}?(?:\?\s*no\b|scratch that|not in the (?:system|catalog)|cancel that|"
    r"never ?mind)",
    _I,
)
_WITHDRAWN_BEFORE = re.compile(
    r"\b(?:no|scratch(?: the)?|cancel(?: the)?|drop the|minus)\s+$|[,;:\-]\s*not\s+(?:the\s+)?$", _I
)
# "AMEND QTY 10KW GEN TO 1", "MREs 30 -> 45", "the 7.62 is 10 crates", "JP-8: make that 400":
# a new figure named right after the item it changes.
_ITEM_AMEND = re.compile(
    rf"^[^\n.;\d]{{0,12}}?(?:\b(?:qty|quantity)\s+)?(?:(?:\d[\d,]*)\s*(?:{UNIT})?\s*->|"
    rf"\bto\b|\bis\b|\bnow\b|=|:\s*make (?:that|it)|\bmake (?:that|it))\s*(?P<qty>{QTY})\s*"
    rf"(?P<unit>{UNIT})?",
    _I,
)
_AMEND_CUE = re.compile(
    r"\b(?:amend\w*|update\w*|correction|corrected|change\w*|make (?:that|it)|revised?)\b|->", _I
)
_AMEND = re.compile(
    r"\b(?:make (?:that|it)|correction[,:]?(?:\s*typo:?)?|should (?:read|be)|"
    r"change (?:that|it) to)"
    rf"\s*(?P<qty>{QTY})\s*(?P<unit>{UNIT})?",
    _I,
)
_ESTIMATE = re.compile(r"\benough\b[^.\n]{0,40}\bfor\s+\d+", _I)


@dataclass(frozen=True)
class Line:
    """One resolved order line in the catalog unit."""

    sku: str
    quantity: int
    unit: str


@dataclass(frozen=True)
class ItemsResult:
    """Resolved lines plus what must be asked back (item / quantity) and why."""

    lines: tuple[Line, ...]
    missing: tuple[str, ...]
    reasons: tuple[str, ...]
    # sku -> the words that named it and its figure, for the person who approves (last wins).
    phrases: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass
class _Mention:
    skus: tuple[str, ...]
    start: int
    end: int
    text: str
    qty: str | None = None
    unit: str | None = None
    gap: str = ""


def _variants(name: str) -> set[str]:
    out = {name}
    words = name.split()
    last = words[-1]
    stem = " ".join([*words[:-1], ""])
    if last.lower().endswith("ies"):
        out.add(stem + last[:-3] + "y")
    elif last.lower().endswith("s") and not last.lower().endswith("ss") and len(last) > 3:
        out.add(stem + last[:-1])
    elif last[-1:].isalnum():
        out.add(stem + last + ("es" if last.lower().endswith(("x", "ch", "sh")) else "s"))
    return out


def _head(name: str) -> str:
    last = name.lower().split()[-1]
    if last.endswith("ies"):
        return last[:-3] + "y"
    return last[:-1] if last.endswith("s") and not last.endswith("ss") else last


class Catalog:
    """Compiled item alias, variant and generic-word lookups for one scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.units = {item.sku: item.unit for item in scenario.catalog}
        names: dict[str, set[str]] = defaultdict(set)
        heads: dict[str, set[str]] = defaultdict(set)
        for item in scenario.catalog:
            for name in item.names:
                if len(re.sub(r"\W", "", name)) < 2:
                    continue  # one-letter aliases ("O-") would match ordinary words
                for variant in _variants(name):
                    names[_key(variant)].add(item.sku)
                heads[_head(name)].add(item.sku)
                words = name.split()
                for cut in range(1, len(words) - 1):
                    suffix = " ".join(words[cut:])
                    if words[cut].lower() not in _STOP:
                        for variant in _variants(suffix):
                            names.setdefault("~" + _key(variant), set()).add(item.sku)
        for key in [k for k in names if k.startswith("~")]:
            skus = names.pop(key)
            if len(skus) == 1 and key[1:] not in names:
                names[key[1:]] = skus
        self.generic = {
            head: tuple(sorted(skus))
            for head, skus in heads.items()
            if len(skus) > 1 and head not in UNIT_WORDS and f"{head}s" not in UNIT_WORDS
        }
        for word, cls in _GENERIC_EXTRA.items():
            self.generic[word] = tuple(i.sku for i in scenario.catalog if i.class_ == cls)
        for word, head in _GENERIC_ALIASES.items():
            if head in self.generic:
                self.generic[word] = self.generic[head]
        self.names = {k: tuple(sorted(v)) for k, v in names.items()}
        generic_forms = {v for g in self.generic for v in _variants(g)}
        patterns = sorted({*self.names, *(_key(g) for g in generic_forms)}, key=len, reverse=True)
        self._regex = alias_regex(patterns, after=r"(?!\w|\.\d)")

    def lookup(self, phrase: str) -> tuple[str, ...]:
        """SKUs an item phrase could mean (one for an alias, several for a generic word)."""
        key = _key(phrase)
        if key in self.names:
            return self.names[key]
        head = _head(key) if key else ""
        return self.generic.get(key) or self.generic.get(head) or ()

    def mentions(self, text: str) -> list[_Mention]:
        """Every alias or generic item word in text order, longest match first."""
        out = []
        for match in self._regex.finditer(text):
            skus = self.lookup(match.group())
            if skus:
                out.append(_Mention(skus, match.start(), match.end(), match.group()))
        return out


_SEPARATORS = re.compile(r"[\s\-']+")
_BROKEN_OFF = re.compile(r"[;\n]|\w{5,}[.!?]\s")


def _key(name: str) -> str:
    return _SEPARATORS.sub(" ", name.lower()).strip()


catalog = per_scenario(Catalog)
"""The catalog index of a scenario, built once (keyed by identity: hashing is slow)."""


def _drop_overlaps(mentions: list[_Mention]) -> list[_Mention]:
    mentions.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[_Mention] = []
    for mention in mentions:
        if kept and mention.start < kept[-1].end:
            continue
        if kept and set(kept[-1].skus) & set(mention.skus) and _adjacent(kept[-1], mention):
            kept[-1].end = mention.end  # "O-neg whole blood", "batteries" after "6TMF"
            continue
        kept.append(mention)
    return kept


def _adjacent(first: _Mention, second: _Mention) -> bool:
    return second.start - first.end <= 2


def _attach_before(text: str, mentions: list[_Mention]) -> set[int]:
    used: set[int] = set()
    floor = 0
    for mention in mentions:
        window = text[max(floor, mention.start - 60) : mention.start]
        match = _BEFORE.search(window)
        if match and not _BROKEN_OFF.search(match.group()):
            mention.qty, mention.unit, mention.gap = match["qty"], match["unit"], match["gap"]
            used.add(mention.start - len(window) + match.start("qty"))
        floor = mention.end
    return used


def _attach_after(text: str, mentions: list[_Mention], used: set[int]) -> None:
    starts = [m.start for m in mentions]
    for index, mention in enumerate(mentions):
        if mention.qty is not None:
            continue
        limit = starts[index + 1] if index + 1 < len(starts) else len(text)
        match = _AFTER.match(text[mention.end : limit])
        if match and match["xq"]:
            mention.qty = match["xq"]
        elif match and mention.end + match.start("qty") not in used:
            mention.qty, mention.unit = match["qty"], match["unit"]


def _withdrawn(text: str, mention: _Mention) -> bool:
    after = text[mention.end : mention.end + 40]
    return bool(_WITHDRAWN_AFTER.match(after)) or bool(
        _WITHDRAWN_BEFORE.search(text[max(0, mention.start - 20) : mention.start])
    )


def _resolve(mention: _Mention, cat: Catalog) -> tuple[str | None, int | None, str]:
    """(sku, quantity, problem) for one mention; problem is '', 'item' or 'quantity'."""
    skus = mention.skus
    key = _key(mention.text)
    if key in cat.generic and mention.unit:
        fitting = tuple(s for s in cat.generic[key] if compatible(mention.unit, cat.units[s]))
        if len(fitting) == 1 and not compatible(mention.unit, cat.units[skus[0]]):
            skus = fitting
    if len(skus) > 1:
        return None, None, "item"
    sku = skus[0]
    if mention.qty is None or _VAGUE.search(mention.gap):
        return sku, None, "quantity"
    value = parse_quantity(mention.qty)
    quantity = convert(value, mention.unit, cat.units[sku]) if value is not None else None
    return sku, quantity, "" if quantity else "quantity"


def _amend(
    text: str, lines: list[tuple[int, str, int]], cat: Catalog, mentions: list[_Mention]
) -> None:
    starts = {m.start for m in mentions}
    for match in _AMEND.finditer(text):
        if any(match.end() <= s <= match.end() + 3 for s in starts):
            continue  # "make it 80 blankets" names a new item, it amends nothing
        before = [i for i, line in enumerate(lines) if line[0] < match.start()]
        value = parse_quantity(match["qty"])
        if not before or value is None:
            continue
        pos, sku, _ = lines[before[-1]]
        quantity = convert(value, match["unit"], cat.units[sku])
        if quantity:
            lines[before[-1]] = (pos, sku, quantity)


def _item_amendments(text: str, mentions: list[_Mention], cat: Catalog) -> dict[str, int]:
    """Figures that amend a named item after a correction cue ("AMEND QTY X TO 1")."""
    amended: dict[str, int] = {}
    for mention in mentions:
        line_start = text.rfind("\n", 0, mention.start) + 1
        if len(mention.skus) != 1 or not _AMEND_CUE.search(text, line_start, mention.end + 30):
            continue
        match = _ITEM_AMEND.match(text[mention.end : mention.end + 60])
        value = parse_quantity(match["qty"]) if match else None
        if match and value is not None:
            quantity = convert(value, match["unit"] or mention.unit, cat.units[mention.skus[0]])
            if quantity:
                amended[mention.skus[0]] = quantity
    return amended


def resolve_items(text: str, cat: Catalog) -> ItemsResult:
    """Order lines from free text: last figure per SKU wins; ambiguity and gaps are reported."""
    every = _drop_overlaps(cat.mentions(text))
    mentions = [m for m in every if not _withdrawn(text, m)]
    # An item withdrawn after its figure ("80 x 120mm - no, scratch the 120mm") is dropped.
    dropped = {
        m.skus[0]
        for m in every
        if len(m.skus) == 1
        and _withdrawn(text, m)
        and any(k.skus == m.skus and k.start < m.start for k in mentions)
    }
    used = _attach_before(text, mentions)
    _attach_after(text, mentions, used)
    found: list[tuple[int, str, int]] = []
    missing: set[str] = set()
    reasons: list[str] = []
    loose: list[str] = []
    for mention in mentions:
        sku, quantity, problem = _resolve(mention, cat)
        ordered = mention.qty is not None
        if problem == "item" and ordered:
            missing.add("item")
            reasons.append(f"ambiguous item '{mention.text}'")
        elif problem == "item" or (problem == "quantity" and not ordered):
            loose.append(mention.text)
        elif problem == "quantity":
            missing.add("quantity")
            reasons.append(f"quantity of '{mention.text}' is not a whole number of catalog units")
        elif sku and quantity:
            found.append((mention.start, sku, quantity))
    _amend(text, found, cat, mentions)
    loose_specific = [m for m in mentions if m.text in loose and len(m.skus) == 1]
    if loose_specific and not found:
        missing.add("quantity")
        reasons.append(f"no quantity for '{loose_specific[0].text}'")
    elif loose and not found:
        missing.add("item")
        reasons.append(f"'{loose[0]}' fits more than one catalog item")
    elif not mentions:
        missing.update(("item", "quantity") if not QTY_RE_ANY.search(text) else ("item",))
        reasons.append("no catalog item named")
    if _ESTIMATE.search(text) and not found:
        missing.add("quantity")
        if any(_key(m.text) in cat.generic for m in mentions):
            missing.add("item")
    amended = _item_amendments(text, mentions, cat)
    merged = [(sku, amended.get(sku, qty)) for sku, qty in _merge_repeats(text, found)]
    lines = tuple(Line(sku, qty, cat.units[sku]) for sku, qty in merged if sku not in dropped)
    return ItemsResult(lines, tuple(sorted(missing)), tuple(reasons), _phrases(mentions, lines))


def _phrases(mentions: list[_Mention], lines: tuple[Line, ...]) -> dict[str, str]:
    """The words behind each line: its figure and unit as written, and the item's name."""
    wanted = {line.sku for line in lines}
    phrases: dict[str, str] = {}
    for mention in mentions:
        if len(mention.skus) == 1 and mention.skus[0] in wanted:
            said = " ".join(w for w in (mention.qty, mention.unit, mention.text) if w)
            phrases[mention.skus[0]] = said
    return phrases


def _merge_repeats(text: str, found: list[tuple[int, str, int]]) -> list[tuple[str, int]]:
    """One figure per SKU: a correction between two mentions replaces, otherwise they add up."""
    merged: dict[str, tuple[int, int]] = {}
    for pos, sku, quantity in found:
        if sku in merged:
            earlier, total = merged[sku]
            corrected = _CORRECTED.search(text, earlier, pos)
            quantity = quantity if corrected else total + quantity
        merged[sku] = (pos, quantity)
    return [(sku, quantity) for sku, (_, quantity) in merged.items()]


_CORRECTED = re.compile(
    r"\b(?:correction|corrected|typo|sorry|actually|instead|should (?:be|read)|make (?:that|it)|"
    r"i mean|rather|not|update\w*|amend\w*|revised?)\b|\?\s*no\b|(?:\.\.\.|,|-)\s*no\b|->",
    _I,
)


QTY_RE_ANY = re.compile(rf"\b\d[\d,]*\s*{UNIT}|\b\d+\s+[a-z]", _I)
