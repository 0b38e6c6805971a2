"""Quantity phrases (digits, k, number words, dozens) and unit words -> whole catalog units."""

from __future__ import annotations

import re
from fractions import Fraction

from services.parser.alternation import factored

LITRES_PER_GALLON = 3.785411784

_ONES = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "a": 1,
    "an": 1,
    "single": 1,
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "dix": 10,
    "uno": 1,
    "una": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "diez": 10,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
# QTY and UNIT are only compiled case-insensitively.
_WORD = factored(sorted([*_ONES, *_TENS], key=len, reverse=True), ignore_case=True)
_NUMWORDS = rf"(?:(?:{_WORD})(?:[\s\-]+(?:and[\s\-]+)?(?:{_WORD}|hundred|thousand))*\b)"
QTY = (
    r"(?<![\w.,'])(?:half\s+a\s+dozen|(?:" + _NUMWORDS + r"\s+)?dozen|a\s+(?:pair|couple)\s+of|"
    r"(?:one[\s\-]+)?half(?:\s+an?)?|\d+\s*/\s*\d+|"
    r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*k\b|(?![\w.,]\d|[A-Za-z]))|" + _NUMWORDS + r")"
)
QTY_RE = re.compile(QTY, re.IGNORECASE)

UNIT_WORDS: dict[str, str] = {
    "pallet": "pallet",
    "pallets": "pallet",
    "pal": "pallet",
    "pals": "pallet",
    "palettes": "pallet",
    "case": "case",
    "cases": "case",
    "cs": "case",
    "crate": "crate",
    "crates": "crate",
    "box": "box",
    "boxes": "box",
    "bx": "box",
    "bxs": "box",
    "carton": "box",
    "cartons": "box",
    "boîte": "box",
    "boîtes": "box",
    "boite": "box",
    "boites": "box",
    "caja": "box",
    "cajas": "box",
    "each": "each",
    "ea": "each",
    "x": "any",
    "coil": "each",
    "coils": "each",
    "sack": "each",
    "sacks": "each",
    "cylinder": "each",
    "cylinders": "each",
    "kit": "each",
    "kits": "each",
    "pcs": "each",
    "pieces": "each",
    "piece": "each",
    "rolls": "each",
    "units": "unit",
    "unit": "unit",
    "gallon": "gallon",
    "gallons": "gallon",
    "gal": "gallon",
    "gals": "gallon",
    "liter": "liter",
    "liters": "liter",
    "litre": "liter",
    "litres": "liter",
    "l": "liter",
    "ltr": "liter",
    "ltrs": "liter",
    "litros": "liter",
    "rounds": "bad",
    "round": "bad",
    "rds": "bad",
    "kg": "bad",
    "kgs": "bad",
    "kilos": "bad",
    "tons": "bad",
    "tonnes": "bad",
    "ton": "bad",
    "bags": "bad",
    "meals": "bad",
    "doses": "bad",
    "lbs": "bad",
    "pounds": "bad",
    "truckloads": "bad",
    "loads": "bad",
    "trucks": "bad",
}
_UNITS = factored(sorted(map(re.escape, UNIT_WORDS), key=len, reverse=True), ignore_case=True)
UNIT = rf"(?:{_UNITS})(?![\w])"


_SPACES = re.compile(r"\s+")
_PAIR = re.compile(r"a (?:pair|couple) of")
_HALF = re.compile(r"(?:one )?half(?: an?)?")
_FRACTION = re.compile(r"(\d+) ?/ ?(\d+)")
_NUMBER = re.compile(r"([\d,]+(?:\.\d+)?) ?(k)?")


def parse_quantity(phrase: str) -> Fraction | None:
    """Numeric value of a quantity phrase ("2,000", "1.5k", "thirty-six", "half a dozen")."""
    text = _SPACES.sub(" ", phrase.strip().lower().replace("-", " "))
    if not text:
        return None
    if "dozen" in text:
        head = text.replace("dozen", "").strip()
        if head in ("half a", "half"):
            return Fraction(6)
        count = _words(head) if head and head not in ("a", "an") else 1
        return None if count is None else Fraction(count * 12)
    if _PAIR.fullmatch(text):
        return Fraction(2)
    if _HALF.fullmatch(text):
        return Fraction(1, 2)
    frac = _FRACTION.fullmatch(text)
    if frac and int(frac[2]):
        return Fraction(int(frac[1]), int(frac[2]))
    num = _NUMBER.fullmatch(text)
    if num:
        value = Fraction(num[1].replace(",", ""))
        return value * 1000 if num[2] else value
    count = _words(text)
    return None if count is None else Fraction(count)


def _words(text: str) -> int | None:
    total, current = 0, 0
    for word in text.replace(" and ", " ").split():
        if word in _ONES:
            current += _ONES[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
    return total + current


def convert(value: Fraction, text_unit: str | None, catalog_unit: str) -> int | None:
    """Whole catalog units for a value in the text's unit, or None when not convertible."""
    unit = UNIT_WORDS.get(text_unit.lower(), "bad") if text_unit else None
    if unit == "liter" and catalog_unit == "gallon":
        value = Fraction(round(float(value) / LITRES_PER_GALLON))
    elif unit == "gallon" and catalog_unit == "liter":
        value = Fraction(round(float(value) * LITRES_PER_GALLON))
    elif unit not in (None, "any", catalog_unit):
        return None
    if value.denominator != 1 or value <= 0:
        return None
    return int(value)


def compatible(text_unit: str | None, catalog_unit: str) -> bool:
    """True when a quantity in the text's unit converts to the catalog unit."""
    return convert(Fraction(1000), text_unit, catalog_unit) is not None
