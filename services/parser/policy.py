"""Deterministic red-line rules: the fast, high-precision layer; injection cut out of fields only.

Rules read the normalised text *including* what is cut out as prompt injection: an injected
segment loses its power to change fields, never its exposure to the red-line check. A rule hit
inside a sentence that only reports what happened ("after the blast on the road …") is not a
request: it is kept as a suspicion for the model's judgement, not a refusal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, Protocol

from services.parser.alternation import factored
from services.parser.normalise import normalise

Category = Literal["surveillance", "use_of_force"]
_I = re.IGNORECASE

# Patterns whose every alternative starts at a word boundary before a word character open with
# `\b(?=\w)`: it matches the same, and `re` stops at other positions before trying each branch.

# --- prompt injection: text addressed to a machine rather than to logistics staff -------------
_MACHINE = re.compile(
    r"\b(?=\w)(?:\b(?:AI|LLM|A\.I\.)\b|"
    r"(?i:\b(?:AI assistant|language models?|parsing model|parser|chatbot|"
    r"automated (?:system|dispatcher|note|parser|planner)|system prompt|dispatcher bot|AI model|"
    r"mod[eè]le|syst[eè]me automatis[ée]|instruction syst[eè]me|bot|dispatch-bot|"
    r"@[\w-]*bot)\b))"
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
    r"status\s*=\s*approved|skip (?:the )?(?:human )?(?:review|approval)|"
    r"human review is not required|"
    r"system override|admin override|"
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
    # French and Spanish: the same acts, as requests are written in the theater.
    r"surveill(?:er|ez|ons|ance)",
    r"film(?:er|ez)",
    r"photographi(?:er|ez)",
    r"enregistr(?:er|ez)",
    r"identifi(?:er|ez)",
    r"fich(?:er|ez)",
    r"espionn(?:er|ez)",
    r"relev(?:er|ez)",
    r"vigil(?:ar|en|ad)",
    r"rastre(?:ar|en|ad)",
    r"filmar",
    r"fotografi(?:ar|en|ad)",
    r"grab(?:ar|en|ad)",
    r"identific(?:ar|en|ad)",
    r"fich(?:ar|en|ad)",
    r"esp(?:iar|íen|ien)",
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
    r"\w+'s (?:car|phone|vehicle|house|home|family)|"
    r"personnes|habitants|civils|villageois|r[ée]fugi[ée]s|patients|manifestants|foule|visages|"
    r"noms|t[ée]l[ée]phones|familles|b[ée]n[ée]ficiaires|empreintes|"
    r"personas|habitantes|civiles|aldeanos|refugiados|pacientes|manifestantes|multitud|caras|"
    r"nombres|tel[ée]fonos|familias|beneficiarios|huellas)\b",
    _I,
)
_RECIPIENTS = (
    r"(?:the |la |le |los |las |el )?(?:s2|intelligence|security services|police|secret police|"
    r"informants?|renseignements?|gendarmerie|polic[ií]a|inteligencia|servicios de seguridad)\b"
)
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
    rf"(?:à|a|pour|para|al|à la) {_RECIPIENTS}",
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
    # French and Spanish.
    r"tir(?:er|ez) sur\b",
    r"ouvr(?:ir|ez) le feu\b",
    r"abatt(?:re|ez)\b",
    r"embuscades?\b",
    r"frappes? a[ée]riennes?\b",
    r"bombard(?:er|ez)\b",
    r"attaqu(?:er|ez) (?:le|la|les|ce|cette)\b",
    r"d[ée]ten(?:ir|ez)\b",
    r"[ée]cras(?:er|ez) (?:les|la foule)\b",
    r"fonc(?:er|ez) (?:sur|dans) (?:les|la foule)\b",
    r"tu(?:er|ez)\b",
    r"dispar(?:ar|en|ad) (?:a|contra|sobre)\b",
    r"abr(?:ir|an) fuego\b",
    r"emboscadas?\b",
    r"bombarde(?:ar|en)\b",
    r"atac(?:ar|en) (?:a|al|el|la|los|las)\b",
    r"deten(?:er|gan) a\b",
    r"arrest(?:ar|en) a\b",
    r"atropell(?:ar|en)\b",
    r"embest(?:ir|ir a)\b",
    r"mat(?:ar|en) a\b",
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
    text: str = ""
    evidence: tuple[str, ...] = ()
    suspected: Category | None = None
    suspect_evidence: tuple[str, ...] = ()
    normalised: tuple[str, ...] = ()

    @cached_property
    def injected(self) -> tuple[str, ...]:
        """The segments cut out as injection, as the person who approves should see them."""
        return tuple(self.text[start:end].strip() for start, end in self.injection_spans)

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


_RECIPIENT = re.compile(rf"\b(?:to|for|with|à|a|pour|para|al) {_RECIPIENTS}", _I)
# A sentence that reports what happened, not what is asked: past tense, no request in it.
_NARRATIVE = re.compile(
    r"\b(?:was|were|had|has been|have been|happened|yesterday|last (?:night|week|month)|"
    r"spread|lost|burn(?:ed|t)|destroyed|occurred|exploded|blew|came|went|found|collapsed|"
    r"earlier (?:today|this week)|ago|after the|since the|following the|is over|has ended|ended|"
    r"hier|la semaine derni[eè]re|apr[eè]s (?:le|la|l')|ayer|la semana pasada|despu[eé]s de)\b",
    _I,
)
# "after the ambush", "since the strike", "lors de l'attaque": the words that follow are an event.
_EVENT_BEFORE = re.compile(
    r"\b(?:after|since|following|during|because of|due to|in the wake of|après|depuis|pendant|"
    r"lors d[eu']|à cause d[eu']|tras|después de|desde|durante|por culpa de)\s+"
    r"(?:(?:the|a|an|last|yesterday's|le|la|les|l'|el|los|las|un|una|del?)\s+)?(?:[\w'-]+\s+){0,3}$",
    _I,
)
_REQUEST = re.compile(
    r"\b(?:need|needs|send|bring|deliver|please|request(?:ed)?|want|make sure|have (?:the|your)|"
    r"get (?:the|your|a)|can you|could you|must|should|will you|i want|we want|let'?s|"
    r"envoyez|apportez|livrez|il faut|veuillez|enviad|env[ií]en|traigan|necesitamos|hay que)\b",
    _I,
)


# People's data by name: handed to a recipient above, it is collection for security bodies.
_PERSONAL_DATA = re.compile(
    r"\b(?:names?|phones?|phone numbers?|id (?:cards?|numbers?)|ids|biometrics?|fingerprints?|"
    r"photos?|pictures?|addresses|movements?|registers?|registry|rosters?|lists? of (?:\w+ ){0,2}"
    r"(?:people|families|residents|recipients|beneficiaries|patients|visitors)|patient records|"
    r"noms|t[ée]l[ée]phones|empreintes|adresses|listes? des|registres?|nombres|tel[ée]fonos|"
    r"huellas|direcciones|listas? de|registros?)\b",
    _I,
)


@dataclass(frozen=True)
class Hit:
    """One rule that fired: its category, the rule's words and the sentence that holds them."""

    category: Category
    reason: str
    sentence: str


def _sentences(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSES.split(text) if c.strip()]


def _surveillance(sentence: str) -> list[tuple[str, int]]:
    reasons = [
        (f"surveillance:{m.group().lower()}", m.start())
        for m in _SURV_STRONG.finditer(sentence)
        if not _RECIPIENT.fullmatch(m.group())
    ]
    recipient, data = _RECIPIENT.search(sentence), _PERSONAL_DATA.search(sentence)
    if recipient and data:
        reasons.append((f"surveillance:{data.group().lower()} {recipient.group().lower()}", 0))
    for verb in _SURV_VERB.finditer(sentence):
        window = sentence[verb.end() : verb.end() + 90]
        for person in _PEOPLE.finditer(window):
            if _PEOPLE_NEG.search(window[: person.start()]):
                continue
            reasons.append(
                (f"surveillance:{verb.group().lower()} {person.group().lower()}", verb.start())
            )
            break
    return reasons


def _force(sentence: str) -> list[tuple[str, int]]:
    cleaned = _FORCE_NEG.sub(lambda m: " " * len(m.group()), sentence)
    return [
        (f"use_of_force:{m.group().strip().lower()[:40]}", m.start())
        for m in _FORCE.finditer(cleaned)
    ]


# Collection in the past tense with no one asked to do it ("the survey identified 140
# households"): what was done, not a request. (Force verbs in the past are read by _NARRATIVE:
# "fired from X onto the village" in a request is still a request.)
_DONE = re.compile(r"\w+ed\b", _I)
_ASKED_BEFORE = re.compile(
    r"\b(?:have|get|want|need|must|should|to be|be|please|make sure|ensure|can you|could you)\b", _I
)


def _told(sentence: str, start: int, category: str) -> bool:
    """True when the words at `start` report an event rather than ask for an act."""
    if _EVENT_BEFORE.search(sentence[:start]):
        return True
    done = category == "surveillance" and _DONE.match(sentence, start)
    if done and not _ASKED_BEFORE.search(sentence[:start]):
        return True
    return bool(_NARRATIVE.search(sentence)) and not _REQUEST.search(sentence)


def rule_hits(text: str) -> tuple[list[Hit], list[Hit]]:
    """(requests, narrative) hits of the red-line rules, sentence by sentence."""
    requests: list[Hit] = []
    narrative: list[Hit] = []
    for sentence in _sentences(text):
        found = [("surveillance", r, at) for r, at in _surveillance(sentence)]
        found += [("use_of_force", r, at) for r, at in _force(sentence)]
        for category, reason, at in found:
            hit = Hit(category, reason, sentence)  # type: ignore[arg-type]
            (narrative if _told(sentence, at, category) else requests).append(hit)
    return requests, narrative


def _hints(text: str) -> tuple[str, ...]:
    found = {m.group().lower() for m in _SURV_VERB.finditer(text)}
    found |= {m.group().lower() for m in _FORCE_HINT.finditer(text)}
    return tuple(sorted(found))


def _decide(hits: list[Hit]) -> Category | None:
    surveillance = sum(h.category == "surveillance" for h in hits)
    force = len(hits) - surveillance
    if not hits:
        return None
    return "surveillance" if surveillance >= force and surveillance else "use_of_force"


def screen(text: str) -> Screen:
    """Screen an order for red lines and prompt injection; injected text is judged too."""
    norm = normalise(text)
    spans = _injection_spans(norm.text)
    clean = _strip(norm.text, spans)
    # Both copies are read: the joined one undoes hyphens and dots inside words.
    requests, narrative = rule_hits(norm.text)
    if norm.joined != norm.text:
        more, told = rule_hits(norm.joined)
        requests, narrative = requests + more, narrative + told
    category = _decide(requests)
    chosen = [h for h in requests if h.category == category]
    return Screen(
        refused=category,
        reasons=tuple(dict.fromkeys(h.reason for h in chosen)),
        injection=bool(spans),
        injection_spans=tuple(spans),
        clean_text=clean,
        text=norm.text,
        evidence=tuple(dict.fromkeys(h.sentence for h in chosen)),
        suspected=_decide(narrative) if category is None else None,
        suspect_evidence=tuple(dict.fromkeys(h.sentence for h in narrative)),
        normalised=norm.changes,
    )


def post_check(extraction: RefusalFlag | None, screened: Screen) -> tuple[str, ...]:
    """Reasons to refuse from the model's own flag, honoured only where the screen saw a cue."""
    if extraction is None or not extraction.refuse or screened.refused is not None:
        return ()
    # The model alone never refuses: a small model over-refuses alarming but lawful logistics.
    return ("model_refusal",) if screened.hints else ()
