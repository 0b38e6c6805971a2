"""Whether the rules' reading of an order's lines accounts for every count the writer gave.

The item rules know the catalog's names; a writer who names an item another way ("bâches",
"cs engine oil", "H2O") leaves a count the rules did not read, and an order accepted without it
is worse than one asked back about. A *count* here is a number followed by a word that is not a
time, a date or a joining word ("80 bâches", "2k gal"); it is *read* when one of the order's
lines was taken from it. Unread counts send the order to the model (when there is one) and are
flagged for the person who approves; they never become lines on their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction

from services.parser.quantities import parse_quantity
from services.parser.times import time_spans

# A whole number (thousands separators; a k for thousands, "2.2k"), perhaps with a count unit
# written onto it ("30cs", "12ea"), then a word. A decimal is a calibre or a size ("5.56"), and
# letters of another kind written onto a number make a name ("2LT", "58th", "20L", "60kW").
_COUNT = re.compile(
    r"(?<![\w#/:.,-])(?P<n>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+(?=k))?)(?P<k>k)?"
    r"(?:(?:cs|ea|pc|pcs|pk|bx|plt|pal|ct)\b|\s*[x×])?"
    r"\s+(?P<word>[^\W\d_][\w'-]*)",
    re.IGNORECASE,
)
# A number after one of these labels is a rank or an index, not a count.
_LABEL_BEFORE = re.compile(
    r"\b(?:priority|prioridad|priorit[eé]|pr[eé]cedence|precedencia|line|ligne|l[ií]nea|"
    r"item|row|no|n[or]?\.?|number|num[eé]ro|ticket|step|phase|block|bloc|bloque)\s*[:#.]?\s*$",
    re.IGNORECASE,
)
# Words after a number that make it something other than a count of goods.
_NOT_GOODS = re.compile(
    r"^(?:h|hrs?|hours?|heures?|horas?|min(?:ute)?s?|minutos?|days?|jours?|d[ií]as?|weeks?|"
    r"semaines?|semanas?|months?|mois|meses|years?|ans?|años?|am|pm|z|zulu|utc|gmt|"
    r"km|kms|miles?|mi|m|percent|pct|people|persons?|personnes|personas|households?|"
    r"families|familles|familias|new|more|of|to|for|by|and|or|at|in|on|the|a|an|de|des|du|"
    r"la|le|les|el|los|las|y|et|e|à|a|pour|para|en|from|per|each|st|nd|rd|th|er|"
    r"jan\w*|feb\w*|f[eé]v\w*|mar\w*|apr\w*|avr\w*|abr\w*|may\w*|mai|jun\w*|juin|jul\w*|"
    r"juil\w*|aug\w*|ao[uû]t|ago\w*|sep\w*|oct\w*|nov\w*|dec\w*|d[eé]c\w*|dic\w*|ene\w*)$",
    re.IGNORECASE,
)


def counts(text: str) -> list[tuple[Fraction, int, int]]:
    """(value, start, end) of every count of goods the text gives, in text order."""
    times = time_spans(text)
    found = []
    for match in _COUNT.finditer(text):
        if _NOT_GOODS.match(match["word"]) or _LABEL_BEFORE.search(text[: match.start()]):
            continue
        start, end = match.start("n"), match.end("k") if match["k"] else match.end("n")
        if any(a < end and start < b for a, b in times):
            continue
        value = parse_quantity(text[start:end])
        if value is not None and value > 0:
            found.append((value, start, end))
    return found


def unread(text: str, read: Iterable[str]) -> list[Fraction]:
    """Counts of the text no line was read from: `read` holds the phrases the lines came from
    (their figures as written)."""
    taken = [value for value in map(_first_number, read) if value is not None]
    left = []
    for value, _, _ in counts(text):
        if value in taken:
            taken.remove(value)
        else:
            left.append(value)
    return left


def _first_number(phrase: str) -> Fraction | None:
    head = re.match(r"\s*(\d[\d,.]*k?)", phrase, re.IGNORECASE)
    return parse_quantity(head[1]) if head else None
