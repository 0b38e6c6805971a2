"""LOAD-TEST BACKEND — NOT A MODEL. Answers with extractions derived from labelled eval data.

`ReplayBackend` looks the order text up in a labelled corpus (`../shared/eval/*.jsonl`) and
builds the `Extraction` a careful model would return, from the record's `expect` and its text:
every phrase is copied from the text (an alias of the expected location, the catalog name of
each expected item with the number before it, the requester's name, a priority word), so the
parser's grounding accepts it. Unknown texts get an empty extraction. It is deterministic and
fast, which is what load benchmarks and the chaos harness need; it must never run in production.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common.scenario import Scenario, load_scenario
from services.parser.extraction import Extraction, ItemPhrase, is_grounded, normalise
from services.parser.llm import Completion, Messages

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_UNIT = re.compile(r"^[A-Za-z][A-Za-z .]{0,19}$")
_MGRS = re.compile(r"\b(?:\d{1,2}[C-X] ?)?[A-Z]{2} ?\d{4,10}(?: \d{2,5})?\b")
_PRIORITY_WORDS = {
    "urgent": ("urgent", "flash", "immediate", "asap", "emergency", "critical"),
    "priority": ("priority", "expedite", "soonest"),
}


@dataclass(frozen=True)
class _Labelled:
    text: str
    expect: dict[str, Any]


def _corpus_files(corpus: Path) -> list[Path]:
    return sorted(corpus.glob("*.jsonl")) if corpus.is_dir() else [corpus]


def load_corpus(corpus: Path) -> list[_Labelled]:
    """Every labelled record of a .jsonl file or of every .jsonl file in a directory."""
    records = []
    for file in _corpus_files(corpus):
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                data = json.loads(line)
                records.append(_Labelled(str(data["text"]), dict(data.get("expect", {}))))
    return records


def _find(phrase: str, text: str) -> int:
    """Where a phrase occurs in text, ignoring case; -1 when absent."""
    return text.lower().find(phrase.lower())


def _alias_in(names: tuple[str, ...], text: str) -> str:
    """The longest alias that occurs in the text, copied as written there; "" when none."""
    for name in sorted(names, key=len, reverse=True):
        at = _find(name, text)
        if at >= 0 and is_grounded(name, text):
            return text[at : at + len(name)]
    return ""


def _item_phrase(names: tuple[str, ...], text: str) -> ItemPhrase | None:
    """The item as written, with the number (and unit words) written just before it."""
    best: tuple[int, str] | None = None
    for name in sorted(names, key=len, reverse=True):
        at = _find(name, text)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, text[at : at + len(name)])
    if best is None:
        return None
    at, item = best
    before = text[max(0, at - 40) : at]
    numbers = list(_NUMBER.finditer(before))
    if not numbers:
        return ItemPhrase(item_phrase=item)
    number = numbers[-1]
    unit = before[number.end() :].strip(" x×-").removesuffix(" of").strip()
    unit = unit if _UNIT.match(unit) else ""
    return ItemPhrase(item_phrase=item, quantity_phrase=number.group(), unit_phrase=unit)


class ReplayBackend:
    """LOAD-TEST ONLY: a deterministic stand-in for a model, answering from labelled data."""

    name = "replay"

    def __init__(self, corpus_path: str | Path, scenario_path: str | Path | None = None) -> None:
        corpus = Path(corpus_path)
        if scenario_path is None:
            beside = (corpus if corpus.is_dir() else corpus.parent) / "scenario.yaml"
            scenario_path = beside if beside.exists() else None
        self._scenario: Scenario | None = (
            load_scenario(scenario_path).scenario if scenario_path is not None else None
        )
        self._by_text: dict[str, _Labelled] = {}
        self._by_prefix: dict[str, _Labelled] = {}
        for record in load_corpus(corpus):
            key = normalise(record.text)
            self._by_text.setdefault(key, record)
            self._by_prefix.setdefault(key[:48], record)
        self._cache: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._by_text)

    def lookup(self, text: str) -> _Labelled | None:
        """The labelled record of an order text (exact, else same opening); None if unknown."""
        key = normalise(text)
        return self._by_text.get(key) or self._by_prefix.get(key[:48])

    def extraction(self, text: str) -> Extraction:
        """The extraction derived for one order text; empty when the text is not in the corpus."""
        record = self.lookup(text)
        if record is None:
            return Extraction()
        expect = record.expect
        if expect.get("outcome") == "refused":
            category = expect.get("category", "")
            return Extraction(
                refuse=True,
                refuse_category=category if category in ("surveillance", "use_of_force") else "",
            )
        return Extraction(
            destination_phrase=self._destination(expect, text),
            items=self._items(expect, text),
            priority_phrase=self._priority(expect, text),
            requester_phrase=self._requester(expect, text),
        )

    def complete(self, messages: Messages, schema: dict[str, Any]) -> Completion:
        """Reply to the last user message with the derived extraction as JSON."""
        started = time.perf_counter()
        text = messages[-1]["content"]
        reply = self._cache.get(text)
        if reply is None:
            reply = self.extraction(text).model_dump_json()
            self._cache[text] = reply
        return Completion(reply, 0, 0, time.perf_counter() - started)

    def _destination(self, expect: dict[str, Any], text: str) -> str:
        wanted = expect.get("destination")
        if not wanted or self._scenario is None:
            return ""
        location = self._scenario.location_by_id.get(str(wanted))
        if location is None:
            return ""
        grid = _MGRS.search(text)
        return _alias_in(location.names, text) or (grid.group() if grid else "")

    def _items(self, expect: dict[str, Any], text: str) -> list[ItemPhrase]:
        if self._scenario is None:
            return []
        items = self._scenario.item_by_sku
        phrases = []
        for line in expect.get("lines") or ():
            item = items.get(str(line.get("sku")))
            phrase = _item_phrase(item.names, text) if item else None
            if phrase is not None:
                phrases.append(phrase)
        return phrases

    @staticmethod
    def _priority(expect: dict[str, Any], text: str) -> str:
        for word in _PRIORITY_WORDS.get(str(expect.get("priority")), ()):
            at = _find(word, text)
            if at >= 0:
                return text[at : at + len(word)]
        return ""

    @staticmethod
    def _requester(expect: dict[str, Any], text: str) -> str:
        name = expect.get("requester")
        if isinstance(name, str) and is_grounded(name, text):
            at = _find(name, text)
            return text[at : at + len(name)] if at >= 0 else name
        return ""
