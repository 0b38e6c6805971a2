"""Priority from the order text: explicit statement, then urgent cues, then priority cues."""

from __future__ import annotations

import re
from typing import Literal

Priority = Literal["urgent", "priority", "routine"]
_I = re.IGNORECASE
_LEVELS: dict[str, Priority] = {"1": "urgent", "2": "priority", "3": "routine"}
_WORDS: dict[str, Priority] = {
    "urgent": "urgent",
    "flash": "urgent",
    "immediate": "urgent",
    "emergency": "urgent",
    "high": "priority",
    "priority": "priority",
    "medium": "priority",
    "expedite": "priority",
    "routine": "routine",
    "low": "routine",
    "normal": "routine",
    "standard": "routine",
}
_NUMBERED = re.compile(
    r"\b(?:priority|pri|prio|precedence|prioridad|priorit[ée])\s*[:=#]?\s*([123])\b|\bP([123])\b",
    _I,
)
_LABELLED = re.compile(
    r"\b(?:priority|pri|prio|precedence)\s*[:=]\s*(urgent|flash|immediate|emergency|high|medium|"
    r"routine|low|normal|standard)\b",
    _I,
)
_EXPLICIT_ROUTINE = re.compile(
    r"\broutine\b|\bnot (?:urgent|a priority|an emergency)\b|\bno rush\b|\bno hurry\b|"
    r"\bnot time[- ]critical\b|\blow priority\b|\bno (?:particular )?urgency\b|"
    r"\b(?:pas|n'est pas|rien d') ?(?:urgent|press[ée])|\bsans urgence\b|\bno es urgente\b|"
    r"\bnada urgente\b|\bsin prisa\b|\bsin urgencia\b|\bno urge\b",
    _I,
)
_URGENT_CI = re.compile(
    r"\b(?:urgent(?:ly)?|asap|as soon as possible|immediately|emergency|casualt(?:y|ies)|mascal|"
    r"mass casualt(?:y|ies)|troops in contact|life[- ]threatening|urgente|d'urgence|"
    r"inmediatamente|imm[ée]diatement)\b",
    _I,
)
_URGENT_CS = re.compile(r"\bFLASH\b(?! FLOOD)|\bIMMEDIATE\b|\bTIC\b")
_PRIORITY = re.compile(
    r"\bhigh(?:[- ]priority)?\b(?=\s*(?:priority|please|pls|\.|,|$))|\bhigh priority\b|"
    r"\bexpedite[ds]?\b|\bas soon as practical\b|\bPRIORITY\b(?!\s*[:=]?\s*\d)|"
    r"^\s*priority\s*[.!]",
    _I | re.MULTILINE,
)
_CLAUSE = re.compile(r"\bbut\b|;|,|\s-\s")
_NEGATION = re.compile(
    r"\b(?:not|no|non|never|without|isn't|is not|nothing|pas|n'est pas|sin)\s+(?:\w+\s+){0,2}$",
    _I,
)
_PAST = re.compile(
    r"\b(?:yesterday|last (?:night|week)|earlier|was|were|had been|has been quiet|exercise|"
    r"training|drill|simulated)\b",
    _I,
)


def _live(match: re.Match[str], text: str) -> bool:
    """False for a cue that is negated or describes the past / an exercise rather than this need."""
    before = text[max(0, match.start() - 30) : match.start()]
    sentence_start = max(text.rfind(".", 0, match.start()), text.rfind("\n", 0, match.start())) + 1
    sentence_end = min(
        p for p in (text.find(".", match.end()), text.find("\n", match.end()), len(text)) if p >= 0
    )
    separators = [m.end() for m in _CLAUSE.finditer(text, sentence_start, match.start())]
    start = max([sentence_start, *separators])
    following = _CLAUSE.search(text, match.end(), sentence_end)
    clause = text[start : following.start() if following else sentence_end]
    return not _NEGATION.search(before) and not _PAST.search(clause)


def _explicit(text: str) -> Priority | None:
    numbered = [m for m in _NUMBERED.finditer(text) if _live(m, text)]
    if numbered:
        return min((_LEVELS[m.group(1) or m.group(2)] for m in numbered), key=_rank_desc)
    labelled = _LABELLED.search(text)
    if labelled:
        return _WORDS[labelled.group(1).lower()]
    if _EXPLICIT_ROUTINE.search(text):
        return "routine"
    return None


def _rank_desc(priority: Priority) -> int:
    return {"urgent": 0, "priority": 1, "routine": 2}[priority]


def resolve_priority(text: str) -> tuple[Priority, str]:
    """(priority, the rule that decided it); `text` must already exclude injected segments."""
    explicit = _explicit(text)
    if explicit:
        return explicit, "explicit"
    for pattern in (_URGENT_CI, _URGENT_CS):
        if any(_live(m, text) for m in pattern.finditer(text)):
            return "urgent", "urgent_cue"
    if any(_live(m, text) for m in _PRIORITY.finditer(text)):
        return "priority", "priority_cue"
    return "routine", "default"
