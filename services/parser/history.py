"""What the writer asks for now: quoted history, radio read-backs and repeats set aside.

A forwarded or replied-to message carries the old order below the new one; a radio exchange
repeats figures ("I say again …", the other station's "Copy one-two oil …"). Items and
times are read from what remains, so nothing is counted twice or taken from an old message.
"""

from __future__ import annotations

import re

# From the first quoted line, original-message rule or "… wrote:" header on, it is history.
QUOTED = re.compile(
    r"^\s*>|^\s*-{2,}\s*(?:original message|forwarded message|message d'origine|mensaje original)"
    r"|^.{0,80}\b(?:wrote|a écrit|escribió)\s*:\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_REPEAT = re.compile(r"\b(?:i say again|i repeat|say again)\b[^.\n]*", re.IGNORECASE)
# A transcript line where the other station reads the figures back.
_READBACK = re.compile(
    r"^\s*\[?[\w .'/-]{1,30}\]?\s*:\s*(?:good\s+)?(?:copy|copied|roger|read ?back|confirm(?:ing)?|"
    r"wilco)\b.*$",
    re.IGNORECASE | re.MULTILINE,
)


def without_history(text: str) -> str:
    """The text above the first quoted earlier message."""
    quoted = QUOTED.search(text)
    return text[: quoted.start()] if quoted else text


def current(text: str) -> str:
    """The text with history, repeats and read-backs blanked (line structure kept)."""
    text = without_history(text)
    text = _REPEAT.sub(" ", text)
    return _READBACK.sub(" ", text)
