"""The requester's name as written: Requester/POC field, signature, sign-off, call sign, rank."""

from __future__ import annotations

import re

_I = re.IGNORECASE
RANKS = (
    "pvt|pfc|spc|cpl|sgt|ssg|sfc|msg|1sg|sgm|csm|wo1|cw2|cw3|cw4|cw5|2lt|1lt|lt|cpt|capt|maj|ltc|"
    "col|dr|mr|ms|mrs|lieutenant|captain|major|sergeant|corporal|doctor"
)
_RANK = rf"(?:\b(?:{RANKS})\.?)"
_PARTICLE = r"(?:van|von|de|da|del|der|den|du|dos|al|el|bin|ibn|la|le)"
_NAME_PART = r"(?:[A-ZÀ-Ý][\w'’À-ÿ]*(?:-[A-ZÀ-Ýa-zà-ÿ][\w'’À-ÿ]*)*\.?|[A-Z]\.)"
_NAME = re.compile(
    rf"^(?:{_RANK}\s+)?{_NAME_PART}(?:\s+(?:{_PARTICLE}\s+){{0,2}}{_NAME_PART}){{0,3}}$"
)
# A ranked name's second word stays on its line: "SGT T. BELL\nANSWER: …" names Bell.
_RANKED = re.compile(
    rf"(?<![\w-])(?i:{RANKS})\.?\s+(?:[A-Za-zÀ-ÿ]\.\s*)?[A-Za-zÀ-ÿ][\w'À-ÿ-]+"
    rf"(?:[ \t]+(?!(?i:at|from|here|in|to|for|and|with|on)\b)[A-ZÀ-Ý][\w'À-ÿ-]+)?"
)
_FIELD = re.compile(
    r"\b(?:requester|requested by|requestor|poc|point of contact|from|opened by|"
    r"submitted by|signed|contact|caller|demandeur|demand[ée]e? par|solicitante|"
    r"solicitado por|firma(?:do)?)\s*:\s*"
    r"([^\n,;]+)|\bPOC\s+((?:[A-Z][\w.'-]*\s?){1,4})",
    _I,
)
# A chat export line: "[09:14] Name: message" or "09:14 - Name: message".
_CHAT = re.compile(
    r"^\s*\[?\d{1,2}:\d{2}(?::\d{2})?\]?\s*(?:-\s*)?([^:\n]{2,40}?):\s*(.+)$", re.MULTILINE
)
_ASKS = re.compile(
    r"\b(?:need|needs|send|request|requesting|can (?:we|you|the \w+) (?:get|send)|could|please|"
    r"deliver|bring|want|besoin|envoy|pourriez|necesit|env[ií]|mand|pedimos|req)\w*",
    _I,
)
_COUNT = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred)\b", _I
)
# Voice call signs: a word and spoken digits ("Viper Three-One", "Lantern Two", "Hammer 6").
_SPOKEN = r"(?:zero|one|two|three|four|five|six|seven|eight|nine|niner|\d)"
_CALL = re.compile(rf"\b([A-Z][a-z]+(?:[\s-]{_SPOKEN}(?![\w]))+)", _I)
_RADIO_CALLER = re.compile(
    rf"^(?:[\w-]+,?\s+){{1,3}}(?:this is\s+)([A-Z][a-z]+(?:[\s-]{_SPOKEN}\b)+)|"
    rf"^(?:[A-Z][\w-]+,\s+){{1,2}}([A-Z][a-z]+(?:[\s-]{_SPOKEN}\b)+),?\s+(?:over|this is)",
    _I | re.MULTILINE,
)
_SIGNOFF = re.compile(
    r"^(?:thanks(?: a lot| again)?|thank you|thx|many thanks|regards|kind regards|"
    r"best regards|best|"
    r"cheers|v/r|vr|respectfully|warmly|warm regards|sincerely|merci|cordialement|gracias|"
    r"saludos|atentamente|bien à vous|ta|many thanks|un saludo|bien cordialement|"
    r"merci d'avance|muchas gracias|thanks / gracias|merci / thanks)(?![\w'])\s*[,!.:]?\s*"
    r"(?:-\s*)?",
    _I,
)
_CALLSIGN = re.compile(r"^([A-Z]{3,}[- ]\d{1,2})(?:\s+(?:OUT|OVER))?$")
_INTRO = re.compile(
    rf"\b(?:this is|it'?s|its|c'est|soy)\s+((?:{_RANK}\s+)?[A-Za-zÀ-ÿ][\w'À-ÿ-]+"
    r"(?:\s+(?:[A-Z][\w'À-ÿ-]+|\d{1,2}\b))?)|"
    rf"^\s*((?:{_RANK}\s+)?[A-Z][\w'À-ÿ-]+(?:\s+[A-Z][\w'À-ÿ-]+)?)\s+(?:again|here)\b",
    _I | re.MULTILINE,
)
_STOP = {
    "routine",
    "urgent",
    "priority",
    "thanks",
    "thank",
    "end",
    "out",
    "over",
    "asap",
    "please",
    "pls",
    "immediately",
    "now",
    "ok",
    "cheers",
    "no",
    "rush",
    "break",
    "regards",
    "hello",
    "hi",
    "team",
    "all",
    "dear",
    "best",
    "note",
    "request",
    "req",
    "merci",
    "gracias",
    "fin",
    "salam",
    "fyi",
    "flash",
    "immediate",
    "expedite",
    "standard",
    "resupply",
    "deliver",
    "delivery",
    "bt",
    "affirm",
    "roger",
    "copy",
    "wilco",
}
_ROLE = re.compile(
    r"\b(?:officer|coordinator|manager|management|director|liaison|relief|aid|team|collective|"
    r"consortium|ncoic|oic|medical|operations|logistics|planning|community|health|worker|field|"
    r"hospital|clinic|section|company|battalion|platoon|unit|wash|ngo|office|s[1-6]|g[1-6]|"
    r"medlog|toc|hq|cell|hub|network|foundation|services|mission|program|programme|"
    r"solidari\w*|alliance|association|asociaci\w*|fundaci\w*|fondation|international|"
    r"partners|coordinat\w*|responsable)\b",
    _I,
)


_RULE_OR_PS = re.compile(r"[-_=*~. ]+|p\.?s\.?", _I)
_NAME_END = re.compile(r",|\s\(|\s[-–]\s")
_DIGIT = re.compile(r"\d")
_LEADING_RANK = re.compile(rf"^{_RANK}\s+", _I)
_LOWER_NAME = re.compile(r"[a-zà-ÿ][a-zà-ÿ'\- ]*\.?")
_RANK_ONLY = re.compile(_RANK, _I)
_FRAGMENT_END = re.compile(r"(?<!\b[A-Z])(?<!\b[a-z])[.!?]\s+|\s[-–]\s(?=[A-Z])")
_ENDS_WITH_RANK = re.compile(rf".*\s{_RANK}|{_RANK}", _I)


def _clean_lines(text: str) -> list[str]:
    lines = [ln.strip() for ln in text.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith(">") and not _RULE_OR_PS.fullmatch(ln)]


def _as_name(fragment: str, allow_lower: bool = False) -> str | None:
    marker = _SIGNOFF.match(fragment.strip())
    if marker and 0 < marker.end() < len(fragment.strip()):
        fragment = fragment.strip()[marker.end() :]
    candidate = _NAME_END.split(fragment.strip(" -–—\t/"))[0].strip().rstrip(".")
    if _CALLSIGN.match(candidate):
        return _CALLSIGN.match(candidate).group(1)  # type: ignore[union-attr]
    words = candidate.split()
    if not words or len(words) > 5 or any(w.lower().strip(".!") in _STOP for w in words):
        return None
    if _ROLE.search(candidate) or _DIGIT.search(_LEADING_RANK.sub("", candidate)):
        return None
    if _NAME.match(candidate) and not _has_rank_only(candidate):
        return candidate
    if allow_lower and len(words) <= 3 and _LOWER_NAME.fullmatch(fragment.strip()):
        return fragment.strip()
    return None


def _has_rank_only(candidate: str) -> bool:
    return bool(_RANK_ONLY.fullmatch(candidate))


def _signature(lines: list[str]) -> str | None:
    tail = lines[-4:]
    for index, line in enumerate(tail):
        marker = _SIGNOFF.match(line)
        if marker and marker.end() == len(line) and index + 1 < len(tail):
            return _as_name(tail[index + 1])
    for line in reversed(tail[-3:]):
        if len(line.split()) > 7:
            break
        name = _as_name(line)
        if name:
            return name
    return None


def _last_fragment(line: str) -> str | None:
    fragments = [f for f in _FRAGMENT_END.split(line) if f.strip()]
    for index in range(len(fragments) - 1, 0, -1):
        if _ENDS_WITH_RANK.fullmatch(fragments[index - 1].strip()):
            fragments[index - 1 : index + 1] = [f"{fragments[index - 1]}. {fragments[index]}"]
    while fragments and fragments[-1].strip(" .!").lower() in _STOP:
        fragments.pop()
    if not fragments:
        return None
    last = fragments[-1].strip()
    marker = _SIGNOFF.match(last)
    if marker and marker.end() < len(last):
        return _as_name(last[marker.end() :])
    return _as_name(last, allow_lower=line == line.lower())


def _chat_speaker(text: str) -> str | None:
    """In a chat export, the speaker of the first message that asks for a counted delivery."""
    for match in _CHAT.finditer(text):
        if _ASKS.search(match[2]) and _COUNT.search(match[2]):
            name = re.sub(r"\s*\([^)]*\)\s*$", "", match[1]).strip()
            return name if _as_name(name) or _CALL.fullmatch(name) else None
    return None


def _radio_caller(text: str) -> str | None:
    """'Kestrel, this is Viper Three-One' / 'Kestrel, Viper Three-One, over': the caller."""
    match = _RADIO_CALLER.search(text)
    if match:
        return (match[1] or match[2]).strip()
    last = _clean_lines(text)[-1:] or [""]
    ending = re.search(rf"([A-Z][a-z]+(?:[\s-]{_SPOKEN}\b)+)\s+(?:out|over)\W*$", last[0], _I)
    return ending[1] if ending else None


def find_requester(text: str) -> tuple[str | None, str]:
    """(requester name as written or None, the rule that found it); text excludes injections."""
    field = _FIELD.search(text)
    if field and _as_name(field.group(1) or field.group(2) or ""):
        return _as_name(field.group(1) or field.group(2)), "field"
    speaker = _chat_speaker(text)
    if speaker:
        return speaker, "field"
    caller = _radio_caller(text)
    if caller:
        return caller, "sign_off"
    lines = _clean_lines(text)
    if not lines:
        return None, "none"
    if len(lines) > 1:
        name = _signature(lines)
        if name:
            return name, "signature"
    name = _last_fragment(lines[-1])
    if name:
        return name, "sign_off"
    ranked = [m.group().strip() for m in _RANKED.finditer(text)]
    if ranked:
        return ranked[-1], "rank"
    intro = _INTRO.search(text)
    if intro:
        return (intro.group(1) or intro.group(2)).strip(), "intro"
    return None, "none"
