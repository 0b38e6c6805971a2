"""Factored alternations match exactly what the plain alternation matches."""

from __future__ import annotations

import json
import re

import pytest

from services.common.scenario import load_scenario
from services.parser.alternation import factored
from services.parser.places import alias_body, gazetteer
from tests.paths import EVAL_DIR

_ALIASES = [
    "FOB Heron",
    "Heron",
    "HRN",
    "Herron",
    "fob heron annex",
    "Qasr Alma",
    "Kasr Alma",
    "Alma",
    ".50 cal",
    "5.56 ball",
    "a",
    "al-Amal camp",
]
_TEXTS = [
    "8 pallets to FOB Heron annex, not Herron; HRN.",
    "Kasr-Alma or qasr  alma? Alma!",
    "2 boxes .50 CAL and 5.56 ball to al Amal camp",
    "fob heron annex-2 a alma heronry KELVIN \u212aasr Alma",
    "",
]


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], str]]:
    return [(m.span(), m.group()) for m in pattern.finditer(text)]


@pytest.mark.parametrize("text", _TEXTS)
def test_factored_aliases_match_like_the_plain_alternation(text: str) -> None:
    """Grouping alias bodies by first character changes no match, span or winner."""
    bodies = [alias_body(a) for a in sorted(_ALIASES, key=len, reverse=True)]
    plain = re.compile(rf"(?<![\w\-])(?:{'|'.join(bodies)})(?![\w\-])", re.IGNORECASE)
    grouped = re.compile(
        rf"(?<![\w\-])(?:{factored(bodies, ignore_case=True)})(?![\w\-])", re.IGNORECASE
    )
    assert _spans(grouped, text) == _spans(plain, text)


def test_factored_groups_by_folded_first_character() -> None:
    """Bodies are grouped under their lower-case first character, in the given order."""
    assert factored(["Heron", "hrn", "Alma"], ignore_case=True) == "h(?:eron|rn)|a(?:lma)"
    assert factored(["Heron", "hrn"], ignore_case=False) == "H(?:eron)|h(?:rn)"


@pytest.mark.parametrize("odd", ["'?Amal", "(?:x)y", "\\dabc", "a?bc", "é"])
def test_factored_keeps_the_plain_alternation_when_a_first_character_is_not_plain(
    odd: str,
) -> None:
    """An optional, non-ASCII or non-literal first character falls back to `a|b|…` unchanged."""
    assert factored(["Heron", odd], ignore_case=True) == f"Heron|{odd}"


def test_scenario_gazetteer_matches_like_the_plain_alternation() -> None:
    """On the eval scenario and corpus, the factored place regex finds exactly the same places."""
    scenario = load_scenario(EVAL_DIR / "scenario.yaml").scenario
    texts = [
        json.loads(line)["text"]
        for file in sorted(EVAL_DIR.glob("*.jsonl"))
        for line in file.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    names = sorted((n for loc in scenario.locations for n in loc.names), key=len, reverse=True)
    plain = re.compile(
        rf"(?<![\w\-])(?:{'|'.join(alias_body(n) for n in names)})(?![\w\-]|\.\d)", re.IGNORECASE
    )
    factored_regex = gazetteer(scenario)._regex
    assert factored_regex.pattern != plain.pattern  # the factored form is in use
    for text in texts:
        assert _spans(factored_regex, text) == _spans(plain, text)
