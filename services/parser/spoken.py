"""Radio-spoken numbers and times written out ("one-two pallets", "zero-eight-hundred zulu").

Voice procedure says numbers digit by digit ("one-five-zero" = 150, "niner" = 9) and clock
times as digits plus "hundred" ("one-four-hundred" = 1400, "eighteen hundred zulu" = 1800).
Rewritten as digits, the quantity and time readers need no second grammar for them.
"""

from __future__ import annotations

import re

_DIGITS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "niner": "9", "tree": "3", "fife": "5",
}  # fmt: skip
_HOURS = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
    "twenty": "20", "twenty-one": "21", "twenty-two": "22", "twenty-three": "23",
}  # fmt: skip
_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|niner|tree|fife)"
_SEP = r"[\s-]"
# Two or more digit words in a row ("one-two", "two five zero zero"), not "one or two".
_RUN = re.compile(rf"(?<![\w-])({_DIGIT}(?:{_SEP}{_DIGIT})+)(?:{_SEP}(hundred))?(?![\w-])", re.I)
# "eighteen hundred zulu", "at fourteen hundred": an hour word and "hundred" as a clock time.
_HOUR = "|".join(sorted(_HOURS, key=len, reverse=True))
_CLOCK = re.compile(
    rf"(?<![\w-])({_HOUR}){_SEP}hundred(?:{_SEP}(?:hours|hrs))?(?={_SEP}*(?:z\b|zulu|utc|hours|hrs|"
    rf"local|[.,;)]|$))",
    re.I,
)
_BEFORE_CLOCK = re.compile(
    r"(?:by|nlt|net|before|after|at|until|no later than|not before|not later than|from)\s+$", re.I
)


def _run(match: re.Match[str]) -> str:
    digits = "".join(_DIGITS[w.lower()] for w in re.split(_SEP, match[1]))
    if match[2]:  # "zero-eight-hundred", "one-four-hundred": a clock time
        return (digits + "00").rjust(4, "0") if len(digits) <= 2 else match[0]
    return digits


def _clock(match: re.Match[str]) -> str:
    return _HOURS[match[1].lower()] + "00"


_HOUR_HUNDRED = re.compile(rf"(?<![\w-])({_HOUR}){_SEP}hundred(?![\w-])", re.I)


def _clock_after_time_word(text: str) -> str:
    """'by eighteen hundred' without a zone: a clock time only after a time word."""
    out, last = [], 0
    for match in _HOUR_HUNDRED.finditer(text):
        if _BEFORE_CLOCK.search(text[max(0, match.start() - 24) : match.start()]):
            out.append(text[last : match.start()])
            out.append(_clock(match))
            last = match.end()
    out.append(text[last:])
    return "".join(out)


# Hesitations in transcripts ("no later than, uh, fourteen hundred").
_HESITATION = re.compile(r"(?<![\w-])(?:u+h+|u+m+|e+r+m*|hmm+)(?![\w-])[,.]*\s*", re.I)
# Shorthand of SMS and field notes for words the time reader knows.
_SHORTHAND = (
    (re.compile(r"(?<![\w-])b4(?![\w-])", re.I), "before"),
    (re.compile(r"(?<![\w-])(?:wed)(?![\w-])\.?", re.I), "wednesday"),
    (re.compile(r"(?<![\w-])(?:thu|thur)(?![\w-])\.?", re.I), "thursday"),
    (re.compile(r"(?<![\w-])(?:fri)(?![\w-])\.?", re.I), "friday"),
    (re.compile(r"(?<![\w-])(?:tue)(?![\w-])\.?", re.I), "tuesday"),
    # "mon", "sat" and "sun" are words too: only after a clock time or a time word.
    *(
        (
            re.compile(rf"\b(\d{{4}}z?|by|on|nlt|net|sometime|time|before) {short}\b", re.I),
            rf"\1 {day}",
        )
        for short, day in (("mon", "monday"), ("sat", "saturday"), ("sun", "sunday"))
    ),
    # "16h" / "16 h" as a clock time (French), "14h30" is read already.
    (re.compile(r"(?<![\w:])([01]?\d|2[0-3]) ?h(?![\w])", re.I), r"\1:00"),
)


def digits_spoken(text: str) -> str:
    """The text with radio-spoken digit runs and clock times written as digits."""
    text = _HESITATION.sub("", text)
    for pattern, plain in _SHORTHAND:
        text = pattern.sub(plain, text)
    text = _RUN.sub(_run, text)
    text = _CLOCK.sub(_clock, text)
    return _clock_after_time_word(text)
