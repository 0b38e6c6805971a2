"""Order text (+ optional model phrases) -> Accepted | Clarify | Refused; code is the judge."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from services.common.scenario import Scenario
from services.parser.coverage import unread
from services.parser.extraction import Extraction, is_grounded, too_long
from services.parser.history import current
from services.parser.items import ItemsResult, Line, catalog, resolve_items
from services.parser.places import PlaceResult, choose_destination, gazetteer
from services.parser.policy import Category, Screen, post_check, screen
from services.parser.priority import Priority, resolve_priority
from services.parser.quantities import UNIT_WORDS, convert, parse_quantity
from services.parser.requester import find_requester
from services.parser.spoken import digits_spoken
from services.parser.times import Window, resolve_window

# Flag of an accepted order with a count no line was read from: the model reads it when there is
# one, and the person who approves sees it.
UNREAD_FLAG = "unread_count:"
_PRIORITY_CONFIDENCE = {"explicit": 0.95, "urgent_cue": 0.85, "priority_cue": 0.8, "default": 0.7}
_REQUESTER_CONFIDENCE = {
    "field": 0.95,
    "signature": 0.9,
    "sign_off": 0.85,
    "rank": 0.7,
    "intro": 0.6,
    "model": 0.6,
    "none": 0.5,
}


@dataclass(frozen=True)
class Accepted:
    """A structured demand ready for the planner."""

    destination: str
    lines: tuple[tuple[str, int, str], ...]
    priority: Priority
    not_before: datetime | None
    deliver_by: datetime | None
    requester: str | None
    confidence: dict[str, float] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    # The order's own words behind each field, to be located in its text (spans.py).
    quotes: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Clarify:
    """An order that must be asked back about: what is missing and why."""

    missing: tuple[str, ...]
    reasons: tuple[str, ...]
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    """An order that crosses a red line: which layer said so, and the words that show it."""

    category: Category
    reasons: tuple[str, ...]
    flags: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    layer: str = "rules"


@dataclass(frozen=True)
class Held:
    """An order no layer is sure of: it waits for a person's signed safety review."""

    category: Category
    reasons: tuple[str, ...]
    flags: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    layer: str = "model"


@dataclass(frozen=True)
class Several:
    """A text that asked for deliveries to several places: one demand per destination."""

    parts: tuple[Accepted, ...]
    flags: tuple[str, ...] = ()


Outcome = Accepted | Clarify | Refused | Held | Several


def _grounded_phrases(extraction: Extraction | None, text: str, flags: list[str]) -> dict[str, str]:
    """The model's phrases that really occur in the (injection-free) text; others are flagged."""
    if extraction is None:
        return {}
    flags.extend(f"too_long:{name}" for name in too_long(extraction))
    phrases: dict[str, str] = {}
    for name in ("destination", "time", "priority", "requester"):
        phrase = getattr(extraction, f"{name}_phrase").strip()
        if phrase and is_grounded(phrase, text):
            phrases[name] = phrase
        elif phrase:
            flags.append(f"ungrounded:{name}")
    for index, item in enumerate(extraction.items):
        if item.item_phrase and is_grounded(item.item_phrase, text):
            phrases[f"item{index}"] = item.item_phrase
            if item.quantity_phrase and is_grounded(item.quantity_phrase, text):
                phrases[f"qty{index}"] = item.quantity_phrase
                phrases[f"unit{index}"] = (
                    item.unit_phrase if is_grounded(item.unit_phrase, text) else ""
                )
        elif item.item_phrase:
            flags.append("ungrounded:item")
    return phrases


def _model_lines(
    phrases: dict[str, str], scenario: Scenario
) -> tuple[tuple[Line, Fraction, str], ...]:
    """(line, the count as the model quoted it, its words) from grounded model phrases whose
    item the catalog knows as exactly one SKU."""
    cat, lines = catalog(scenario), []
    for key, item_phrase in phrases.items():
        if not key.startswith("item"):
            continue
        index = key[4:]
        skus = cat.lookup(item_phrase)
        said = phrases.get(f"qty{index}", "")
        value = parse_quantity(said)
        if len(skus) != 1 or value is None:
            continue
        unit = phrases.get(f"unit{index}") or None
        # A word the model calls the unit that is no unit ("cajas", "bâches") names the goods.
        known = unit if unit is not None and unit.lower() in UNIT_WORDS else None
        quantity = convert(value, known, cat.units[skus[0]])
        if quantity:
            words = " ".join(w for w in (said, unit or "", item_phrase) if w)
            lines.append((Line(skus[0], quantity, cat.units[skus[0]]), value, words))
    return tuple(lines)


def _with_model_lines(
    items: ItemsResult, said: str, model: tuple[tuple[Line, Fraction, str], ...]
) -> ItemsResult:
    """The rules' lines plus the model's for counts the rules left unread.

    A model line counts only for an item the rules did not read and only when its figure is one
    of the counts the writer gave that no rule line was read from (coverage.py): the model
    can name an item in words the catalog rules do not know, never invent a quantity. When the
    rules found no line but asked about the item or quantity, the model's lines answer that only
    if they leave no count unread.
    """
    left = unread(said, items.phrases.values())
    ruled = {line.sku for line in items.lines}
    extra: list[tuple[Line, str]] = []
    for line, value, words in model:
        if line.sku not in ruled and value in left:
            left.remove(value)
            ruled.add(line.sku)
            extra.append((line, words))
    if not extra:
        return items
    phrases = {**items.phrases, **{line.sku: words for line, words in extra}}
    lines = (*items.lines, *(line for line, _ in extra))
    if items.lines:
        return ItemsResult(lines, items.missing, items.reasons, phrases)
    if set(items.missing) <= {"item", "quantity"} and not left:
        return ItemsResult(lines, (), (), phrases)
    return items


# The writer's last word on the time wins: what follows a correction, when it names a time.
_CORRECTED = re.compile(
    r"\b(?:correction|corrected|scratch that|make (?:that|it)|actually|instead|amend(?:ed)?|"
    r"revised|change (?:the )?time|moves? to|moved to|rectificaci[oó]n|plut[oô]t|en fait|"
    r"mejor)\b",
    re.IGNORECASE,
)


def _settled_window(text: str, submitted_at: datetime) -> Window:
    markers = list(_CORRECTED.finditer(text))
    if markers:
        later = resolve_window(text[markers[-1].end() :], submitted_at)
        if later.not_before or later.deliver_by:
            return later
    return resolve_window(text, submitted_at)


def _window(text: str, submitted_at: datetime, phrases: dict[str, str], flags: list[str]) -> Window:
    window = _settled_window(text, submitted_at)
    if window.not_before is None and window.deliver_by is None and "time" in phrases:
        hinted = resolve_window(phrases["time"], submitted_at)
        if hinted.not_before or hinted.deliver_by:
            flags.append("hint:time")
            window = hinted
    if window.not_before and window.deliver_by and window.not_before > window.deliver_by:
        flags.append("window_reversed")
        window = Window(None, window.deliver_by)
    return window


def _requester(text: str, phrases: dict[str, str]) -> tuple[str | None, str]:
    name, rule = find_requester(text)
    if rule in ("rank", "intro", "none") and "requester" in phrases:
        return phrases["requester"], "model"
    return name, rule


def interpret(
    text: str,
    submitted_at: datetime,
    scenario: Scenario,
    extraction: Extraction | None,
    screened: Screen | None = None,
) -> Outcome:
    """Judge one order: red lines first, then destination, lines, window, priority, requester.

    `screened` is `screen(text)` when the caller already has it (the screen is pure).
    """
    screened = screen(text) if screened is None else screened
    flags = ["injection"] if screened.injection else []
    if screened.refused:
        return Refused(screened.refused, screened.reasons, tuple(flags), screened.evidence)
    model_reasons = post_check(extraction, screened)
    if model_reasons and extraction is not None:
        # The extraction model's own flag never refuses alone: a person looks at it.
        category: Category = extraction.refuse_category or (
            "surveillance"
            if any(h.startswith(("track", "monitor", "film", "record")) for h in screened.hints)
            else "use_of_force"
        )
        return Held(category, model_reasons, tuple(flags), (), "model:extraction")
    clean = screened.clean_text
    phrases = _grounded_phrases(extraction, clean, flags)
    gaz = gazetteer(scenario)
    hint = gaz.lookup(phrases["destination"]) if "destination" in phrases else None
    place = choose_destination(clean, gaz, hint)
    destination = place.location or (hint if place.reason == "no_place" else None)
    if hint and place.location and hint != place.location:
        flags.append("model_disagrees:destination")
    # Quantities and times read spoken digits as digits; names and places read the words.
    said = digits_spoken(current(clean))
    items = resolve_items(said, catalog(scenario))
    if not items.lines:  # "same items as my message below": the quoted order is the request
        said = digits_spoken(clean)
        items = resolve_items(said, catalog(scenario))
    ruled_skus = {line.sku for line in items.lines}
    model = _model_lines(phrases, scenario)
    if not items.lines and not items.missing:
        items = ItemsResult(
            tuple(line for line, _, _ in model), (), (), {ln.sku: w for ln, _, w in model}
        )
    else:
        items = _with_model_lines(items, said, model)
    modelled = {line.sku for line, _, _ in model} - ruled_skus
    flags.extend(f"model_line:{line.sku}" for line in items.lines if line.sku in modelled)
    flags.extend(f"{UNREAD_FLAG}{value}" for value in unread(said, items.phrases.values()))
    window = _window(said, submitted_at, phrases, flags)
    missing = set(items.missing)
    reasons = list(items.reasons)
    if destination is None:
        missing.add("destination")
        reasons.append(f"destination: {place.reason}")
    if window.unresolved:
        missing.add("time")
        reasons.append("time reference cannot be resolved to a date")
    if missing or not items.lines or destination is None:
        return Clarify(tuple(sorted(missing or {"item"})), tuple(reasons), tuple(flags))
    priority, priority_rule = resolve_priority(clean)
    requester, requester_rule = _requester(clean, phrases)
    sources = _sources(place, destination, hint, items, priority_rule, requester_rule, flags)
    confidence = {
        "destination": 0.95 if len({m.location for m in place.mentions}) == 1 else 0.8,
        "lines": 0.9,
        "priority": _PRIORITY_CONFIDENCE[priority_rule],
        "time": 0.9,
        "requester": _REQUESTER_CONFIDENCE[requester_rule],
    }
    return Accepted(
        destination=destination,
        lines=tuple((line.sku, line.quantity, line.unit) for line in items.lines),
        priority=priority,
        not_before=window.not_before,
        deliver_by=window.deliver_by,
        requester=requester,
        confidence=confidence,
        flags=tuple(flags),
        sources=sources,
        quotes=_quotes(place, destination, items, requester, requester_rule),
    )


def _quotes(
    place: PlaceResult,
    destination: str,
    items: ItemsResult,
    requester: str | None,
    requester_rule: str,
) -> dict[str, tuple[str, ...]]:
    """The words that named each field, where the rules read them from the text."""
    quotes = {
        "destination": tuple(m.text for m in place.mentions if m.location == destination)[-1:],
        "lines": tuple(items.phrases.values()),
        "requester": (requester,) if requester and requester_rule != "model" else (),
    }
    return {name: said for name, said in quotes.items() if said}


def _sources(
    place: PlaceResult,
    destination: str,
    hint: str | None,
    items: ItemsResult,
    priority_rule: str,
    requester_rule: str,
    flags: list[str],
) -> dict[str, str]:
    """Where each field came from: the words of the order that named it, or the rule or model
    that decided it, so the person who approves can check the fields against the text."""
    named = [m.text for m in place.mentions if m.location == destination]
    lines = "; ".join(f"{sku} ← “{said}”" for sku, said in items.phrases.items())
    return {
        "destination": f"“{named[-1]}”" if named else f"model phrase ({hint})",
        "lines": lines or "model phrases",
        "time": "model phrase" if "hint:time" in flags else "the order's time words (rules)",
        "priority": f"rule: {priority_rule}",
        "requester": "model phrase" if requester_rule == "model" else f"rule: {requester_rule}",
    }
