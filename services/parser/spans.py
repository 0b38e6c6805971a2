"""Where a quoted phrase sits in the order as it was written: character offsets into its text.

The layers read the normalised text (NFKC, format characters removed, look-alikes folded), so
the words they quote may not occur verbatim in what the requester sent. A reader of the order
needs offsets into the original, so the phrase is looked for in a normalised view that keeps,
for every character it holds, the position of the original character it came from.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from services.parser.normalise import fold_char

Span = tuple[int, int]
_JOIN = r"\W+(?:[^\W\d]{1,3}\W+)?"


def _view(text: str) -> tuple[str, list[int]]:
    """The text normalised one character at a time, and each view character's source index."""
    chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        for out in fold_char(ch):
            chars.append(out)
            origin.append(index)
    return "".join(chars), origin


def _pattern(quote: str) -> re.Pattern[str] | None:
    words = "".join(fold_char(ch) for ch in unicodedata.normalize("NFKC", quote)).split()
    if not words:
        return None
    # The rules quote a line by its figure, unit and item ("4 pallets bottled water"), leaving
    # out a short joining word the requester wrote between them ("of", "de", "x").
    return re.compile(_JOIN.join(re.escape(word) for word in words), re.IGNORECASE)


def find_span(text: str, quote: str) -> Span | None:
    """[start, end) of the last place `quote` occurs in `text`, spaces and case aside, or None.

    The last occurrence, because the layers read the current words of a corrected order
    ("…, make that 30"), which come after the words they replace.
    """
    pattern = _pattern(quote)
    if pattern is None:
        return None
    view, origin = _view(text)
    found = [*pattern.finditer(view)]
    if not found:
        return None
    last = found[-1]
    return origin[last.start()], origin[last.end() - 1] + 1


def spans_of(text: str, quotes: Iterable[str]) -> tuple[Span, ...]:
    """The spans of those quotes that occur in the text, in text order, each once."""
    return tuple(sorted({span for q in quotes if (span := find_span(text, q)) is not None}))
