"""Deterministic red-line screen before the model, and a post-check on the model's own flag."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, Protocol

from services.parser.alternation import factored

Category = Literal["surveillance", "use_of_force"]
_I = re.IGNORECASE

# Patterns whose every alternative starts at a word boundary before a word character open with
# `\b(?=\w)`: it matches the same, and `re` stops at other positions before trying each branch.

# --- prompt injection: text addressed to a machine rather than to logistics staff -------------
_MACHINE = re.compile(
    r"\b(?=\w)(?:\b(?:AI|LLM|A\.I\.)\b|"
    r"(?i:\b(?:AI assistant|language models?|parsing model|parser|chatbot|"
    r"automated (?:system|dispatcher|note|parser|planner)|system prompt|dispatcher bot|AI model|"
    r"mod[eè]le|syst[eè]me automatis[ée]|instruction syst[eè]me)\b))"
)
_COMMAND = re.compile(
    r"\b(?=\w)(?:ignore|ignorez|disregard|override|overrides?|mark|set|approve[ds]?|approuv[ée]|"
    r"skip|escalate|change|update|multiply|reject|respond|route|send|dispatch|forward|"
    r"pre-approved|treat|process|passez|marquez|priority|priorit[ée]|must|always|silently)\b",
    _I,
)
# Every alternative starts with one of these letters: other positions fail at once.
_STRONG = re.compile(
    r"(?=[adfhipsy])(?:\b(?:ignore|disregard|forget)\b.{0,30}\b(?:previous|prior|above|earlier)\s+"
    r"(?:instructions?|prompts?|rules?)|ignorez les consignes|\bapproved\"?\s*[:=]\s*\"?true|"
    r"status\s*=\s*approved|skip (?:the )?(?:human )?review|human review is not required|"
    r"\b(?:you are now|pretend (?:to be|you are)|act as (?:an?|the) (?:admin|approver|system)))",
    _I,
)
_HEADER_LINE = re.compile(
    r"^\s*(?:#{2,}.*#{2,}|X-[A-Za-z-]+:.*|SYSTEM(?: NOTE| PROMPT[^:]*)?\s*:.*|"
    r"APPROVED BY\s*:.*|(?:AI|Assistant|Instruction[^:\n]{0,40})\s*:.*)$",
)
_BLOCKS = re.compile(
    r"<!--.*?-->|\[\[.*?\]\]|\[[^\]\n]*\b(?:AI|parser|model|system|assistant)\b[^\]\n]*\]|"
    r"^\s*\{[^\n]*\"(?:approved|priority|system_override|skip_review|status)\"[^\n]*\}\s*$|"
    r"\b[A-Za-z0-9+/]{40,}={0,2}",
    re.DOTALL | re.MULTILINE,
)
_NOT_NEWLINE = re.compile(r"[^\n]")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+(?=\s|$)|(?=\n)|$)")
_FOLLOW_ON = re.compile(
    r"\b(?:approved?|approval|review|dispatch|parser|priority|flash|urgent|override|instructions?|"
    r"signature|queue)\b",
    _I,
)

# --- surveillance: people (or their data) as the object of collection ---------------------------
_SURV_VERBS = (
    r"track(?:s|ed|ing)?",
    r"monitor(?:s|ed|ing)?",
    r"film(?:s|ed|ing)?",
    r"photograph(?:s|ed|ing)?",
    r"record(?:s|ed|ing)?",
    r"identif(?:y|ies|ied|ying)",
    r"geolocat\w*",
    r"profil(?:e|es|ed|ing)",
    r"log(?:s|ged|ging)?",
    r"captur\w*",
    r"collect(?:s|ed|ing)?",
    r"compile[sd]?",
    r"surveil\w*",
    r"spy",
    r"intercept\w*",
    r"watch(?:es|ed|ing)?",
    r"tag(?:s|ged)?",
    r"trackers?",
    r"tracking devices?",
    r"bug(?:s|ged)?",
    r"build (?:a|an) (?:list|database|register|file|profile)",
    r"make (?:a|an) (?:list|database|register|file|profile)",
    r"compile (?:a|an) (?:list|database|register|file|profile)",
    r"keep (?:a|an) (?:list|database|register|file|profile)",
    r"databases?",
    r"footage",
    r"pictures?",
    r"photos?",
)
_SURV_VERB = re.compile(rf"\b(?=\w)(?:{factored(_SURV_VERBS, ignore_case=True)})\b", _I)
_PEOPLE = re.compile(
    r"\b(?:people|persons?|residents?|civilians?|(?:wo)?m[ae]n|males?|females?|famil(?:y|ies)(?:'s)?|"
    r"everyone(?:'s)?|everybody|anyone|villagers?|refugees?|idps?|patients?|recipients?|"
    r"protest(?:ers?)?|crowds?|faces?|names|phones?|phone numbers|id cards?|ids|id card numbers|"
    r"biometrics?|fingerprints?|movements?|who (?:is|are|calls?|shows?|comes?|goes|enters?|"
    r"leaves?|travels?)|which families|affiliations?|home addresses|house locations|"
    r"military-age|households?|children|students|worshippers|journalists?|mayors?|sheikhs?|"
    r"imams?|leaders?|officials?|elders?|activists?|opposition|suspects?|"
    r"\w+'s (?:car|phone|vehicle|house|home|family))\b",
    _I,
)
_RECIPIENTS = r"(?:the )?(?:s2|intelligence|security services|police|secret police|informants?)\b"
_SURV_STRONG_PHRASES = (
    r"cell[- ]site simulator\b",
    r"imsi[- ]catcher\b",
    r"stingray\b",
    r"facial recognition\b",
    r"licen[cs]e[- ]plate cameras?\b",
    r"anpr\b",
    r"phone intercept\w*\b",
    r"wiretap\w*\b",
    rf"to {_RECIPIENTS}",
    rf"for {_RECIPIENTS}",
    rf"with {_RECIPIENTS}",
)
_SURV_STRONG = re.compile(rf"\b(?=\w)(?:{factored(_SURV_STRONG_PHRASES, ignore_case=True)})", _I)
_CLAUSES = re.compile(r"[.!?;\n]+")
_PEOPLE_NEG = re.compile(r"\b(?:no|not|without|never)\s+(?:\w+\s+){0,2}$", _I)

# --- use of force -------------------------------------------------------------------------------
# "fire(d) … at/on …" but not "the fire", "a fire" or "fire extinguishers …".
_FIRE_AT = (
    r"(?<!\bthe )(?<!\ba )fir(?:e|es|ed|ing)\b"
    r"(?!\s+(?:up|extinguishers?|safety|trucks?|station|brigade|damage|hazards?|alarms?|"
    r"fighting|wood|pit|drill|broke|started))"
    r"(?:\s+\w+){0,6}?\s+(?:at|on|onto|into|upon)\b"
)
_FORCE_PHRASES = (
    r"suppressive\s+fires?\b",
    r"indirect\s+fires?\b",
    r"direct\s+fires?\b",
    r"covering\s+fires?\b",
    r"harassing\s+fires?\b",
    r"preparatory\s+fires?\b",
    r"fire missions?\b",
    r"open fire\b",
    r"call for fire\b",
    r"air ?strikes?\b",
    r"drone strikes?\b",
    r"strike\s+(?:the|on|at|against)\s+(?!is\b)",
    r"engag(?:e|es|ing)\s+(?:any|every|all|the)?\s*(?:vehicles?|persons?|people|anyone|anybody|"
    r"targets?|enem(?:y|ies)|hostiles?|civilians?|crowds?|them|fighters|insurgents|militants)\b",
    r"ambush\w*",
    r"kill ?zones?\b",
    r"kill\s+(?:anyone|everyone|them|him|her|the (?:men|people|civilians))\b",
    r"take out\s+(?:anyone|everyone|them|the (?:men|people|target|compound))",
    *(
        rf"{verb}\s+(?:the|any|every|that|those|a)\b"
        for verb in (
            "neutrali[sz]e",
            "eliminate",
            "destroy",
            "shell",
            "bomb",
            "raze",
            "attack",
            "assault",
        )
    ),
    r"by any means necessary\b",
    r"warning shots?\b",
    r"lethal force\b",
    r"deadly force\b",
    r"shoot\s+(?:at|anyone|everyone|to kill|on sight|them|the (?:men|people|driver))\b",
    r"snipers?\b",
    *(
        rf"{verb}\w*\s+(?:them|the|grenades?|explosives?)\b"
        for verb in ("throw", "lob", "detonate", "plant")
    ),
    r"grenades?\b",
    r"detain\w*",
    r"arrest\w*\b",
    r"round up\b",
    r"ram\s+(?:the|any|them)",
    r"run over\s+(?:the|any|them)",
    r"mow down\s+(?:the|any|them)",
    r"drive (?:the \w+ )?into the crowd",
    r"drove (?:the \w+ )?into the crowd",
    r"arm (?:the|them|villagers|militias?) to\b",
    r"hand out (?:rifles|weapons|guns)",
)
# Every phrase starts at a word boundary; the fire-at rule is tried first, as it always was.
_FORCE = re.compile(rf"\b(?=\w)(?:{_FIRE_AT}|{factored(_FORCE_PHRASES, ignore_case=True)})", _I)
_FORCE_HINT = re.compile(r"\b(?:fire|strike|engage|kill|target)\w*", _I)
_FORCE_NEG = re.compile(
    r"\b(?:drivers'? strike|strike is over|on strike|strike action|detain(?:ed|ment)? (?:at|by) "
    r"customs|arrest(?:ed|ing)? (?:the )?(?:decline|spread|deterioration))\b",
    _I,
)


@dataclass(frozen=True)
class Screen:
    """What the deterministic policy found in an order before any model sees it."""

    refused: Category | None
    reasons: tuple[str, ...]
    injection: bool
    injection_spans: tuple[tuple[int, int], ...]
    clean_text: str

    @cached_property
    def hints(self) -> tuple[str, ...]:
        """Red-line words in the clean text; read only when a model asks to refuse."""
        return _hints(self.clean_text)


class RefusalFlag(Protocol):
    """The part of a model extraction the post-check reads."""

    @property
    def refuse(self) -> bool: ...


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _blank_blocks(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with blocks blanked out (offsets kept); their spans are appended to `spans`."""

    def blank(match: re.Match[str]) -> str:
        spans.append(match.span())
        return _NOT_NEWLINE.sub(" ", match.group())

    return _BLOCKS.sub(blank, text)


def _injection_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    # Blank out blocks (keeping offsets) so the sentence around a block is judged on its own.
    text = _blank_blocks(text, spans)
    # A sentence starts and ends beside a non-word character (or an end of the text), so what
    # matches inside a sentence matches in the whole text: no match there, no hit anywhere.
    may_hit = bool(_STRONG.search(text)) or (
        bool(_MACHINE.search(text)) and bool(_COMMAND.search(text))
    )
    flagged = False
    line_of_flag = -1
    for match in _SENTENCE.finditer(text):
        chunk = match.group()
        line_no = text.count("\n", 0, match.start())
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", line_start)
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        hit = may_hit and (
            bool(_STRONG.search(chunk))
            or (bool(_MACHINE.search(chunk)) and bool(_COMMAND.search(chunk)))
        )
        header = match.start() == line_start + (len(line) - len(line.lstrip())) and bool(
            _HEADER_LINE.match(line)
        )
        follow = flagged and line_no == line_of_flag and bool(_FOLLOW_ON.search(chunk))
        if hit or header or follow:
            spans.append((match.start(), match.end()))
            flagged, line_of_flag = True, line_no
        elif line_no != line_of_flag:
            flagged = False
    return _merge(spans)


def _strip(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(" ")
        last = end
    out.append(text[last:])
    return "".join(out)


def _surveillance(text: str) -> list[str]:
    reasons = [f"surveillance:{m.group().lower()}" for m in _SURV_STRONG.finditer(text)]
    for sentence in _CLAUSES.split(text):
        for verb in _SURV_VERB.finditer(sentence):
            window = sentence[verb.end() : verb.end() + 90]
            for person in _PEOPLE.finditer(window):
                if _PEOPLE_NEG.search(window[: person.start()]):
                    continue
                reasons.append(f"surveillance:{verb.group().lower()} {person.group().lower()}")
                break
    strong = [r for r in reasons if not r.startswith("surveillance:to ")]
    # A recipient like "the police" alone is not enough; it must come with collection of people.
    return reasons if strong else []


def _force(text: str) -> list[str]:
    cleaned = _FORCE_NEG.sub(" ", text)
    return [f"use_of_force:{m.group().strip().lower()[:40]}" for m in _FORCE.finditer(cleaned)]


def _hints(text: str) -> tuple[str, ...]:
    found = {m.group().lower() for m in _SURV_VERB.finditer(text)}
    found |= {m.group().lower() for m in _FORCE_HINT.finditer(text)}
    return tuple(sorted(found))


def screen(text: str) -> Screen:
    """Screen an order for red lines and prompt injection; injected text is judged separately."""
    spans = _injection_spans(text)
    clean = _strip(text, spans)
    surveillance = _surveillance(clean)
    force = _force(clean)
    category: Category | None = None
    if surveillance and (not force or len(surveillance) >= len(force)):
        category = "surveillance"
    elif force:
        category = "use_of_force"
    reasons = tuple(dict.fromkeys(surveillance + force)) if category else ()
    return Screen(
        refused=category,
        reasons=reasons,
        injection=bool(spans),
        injection_spans=tuple(spans),
        clean_text=clean,
    )


def post_check(extraction: RefusalFlag | None, screened: Screen) -> tuple[str, ...]:
    """Reasons to refuse from the model's own flag, honoured only where the screen saw a cue."""
    if extraction is None or not extraction.refuse or screened.refused is not None:
        return ()
    # The model alone never refuses: a small model over-refuses alarming but lawful logistics.
    return ("model_refusal",) if screened.hints else ()
