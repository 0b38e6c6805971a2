"""Text normalisation before anything reads an order: what a reader sees, not how it is encoded.

Every later layer (red-line rules, the model's judgement, extraction) reads the normalised text,
so an invisible character, a Cyrillic look-alike or a hyphen inside a word cannot split a word
that one layer would read and another would not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Cyrillic and Greek letters that render like Latin ones. Unicode's confusables table maps far
# more (and maps to skeletons, not to letters a reader would type); for orders written in Latin
# scripts these are the letters that make a word look unchanged while it reads differently.
_CONFUSABLE = str.maketrans(
    {
        # Cyrillic lower / upper
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d",
        "ӏ": "l", "ԛ": "q", "ԝ": "w", "ү": "y", "һ": "h",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
        "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ү": "Y",
        "Һ": "H", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W",
        # Greek lower / upper
        "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "υ": "u",
        "χ": "x", "ε": "e", "η": "n", "ω": "w",
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip
_LATIN = re.compile(r"[A-Za-z]")
_FOREIGN = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0500-\u052f]")
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
                         "\u2014": "-", "\u2015": "-", "\u2212": "-", "\u2018": "'",
                         "\u2019": "'", "\u201c": '"', "\u201d": '"'})  # fmt: skip
# A word broken across a line end by a hyphen ("sur-\nveillance").
_LINE_BREAK_HYPHEN = re.compile(r"(?<=[^\W\d_])-[ \t]*\r?\n[ \t]*(?=[^\W\d_])")
# Letters spelt out one at a time ("s u r v e i l", "k.i.l.l"): four or more single letters.
_SPELT = re.compile(r"(?<![\w.-])(?:[^\W\d_][ .\-_*]){3,}[^\W\d_](?![\w-])")
# Hyphens or dots inside a word of letters ("sur-veil-lance", "tr.ack"), for the rules' copy only.
_INNER = re.compile(r"(?<=[^\W\d_])[-.·_*](?=[^\W\d_])")


@dataclass(frozen=True)
class Normalised:
    """The text every layer reads, a joined copy for keyword rules, and what was changed."""

    text: str
    joined: str
    changes: tuple[str, ...]


def _format_chars(text: str) -> str:
    # Category Cf: zero-width spaces and joiners, soft hyphens, bidi controls, BOMs.
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _fold(text: str) -> str:
    """Look-alike letters folded to Latin when the order is written mainly in Latin letters."""
    if not _FOREIGN.search(text) or len(_LATIN.findall(text)) < len(_FOREIGN.findall(text)):
        return text
    return text.translate(_CONFUSABLE)


def _unspell(text: str) -> str:
    return _SPELT.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group()), text)


def fold_char(ch: str) -> str:
    """One character as every layer reads it (NFKC, no format characters, look-alikes and dashes
    folded); what `normalise` does, character by character, for mapping quotes back to text."""
    out = unicodedata.normalize("NFKC", ch)
    return _format_chars(out).translate(_CONFUSABLE).translate(_DASHES)


def normalise(text: str) -> Normalised:
    """NFKC, format characters removed, look-alikes folded, line-end hyphenation undone."""
    changes: list[str] = []
    out = unicodedata.normalize("NFKC", text)
    if out != text:
        changes.append("nfkc")
    for name, step in (
        ("format_chars", _format_chars),
        ("confusables", _fold),
        ("dashes", lambda t: t.translate(_DASHES)),
        ("hyphenation", lambda t: _LINE_BREAK_HYPHEN.sub("", t)),
    ):
        after = step(out)
        if after != out:
            changes.append(name)
            out = after
    joined = _INNER.sub("", _unspell(out))
    return Normalised(out, joined, tuple(changes))
