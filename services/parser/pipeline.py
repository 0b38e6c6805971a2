"""From a submitted order to the message that answers it: screen, extract, interpret."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from schemas.envelope import content_id
from schemas.orders import (
    DemandLine,
    OrderParsed,
    OrderRejected,
    OrderSubmitted,
    Priority,
    RefusalCategory,
    RejectionOutcome,
    Submitter,
)
from services.common.scenario import Scenario
from services.parser.extract import Extracted, extract
from services.parser.interpret import (
    UNREAD_FLAG,
    Accepted,
    Clarify,
    Held,
    Outcome,
    Refused,
    Several,
    interpret,
)
from services.parser.items import catalog
from services.parser.judge import Judgement, RedLineJudge
from services.parser.llm import LLMBackend, LLMError
from services.parser.places import gazetteer
from services.parser.policy import Screen, screen
from services.parser.requests import split_requests
from services.parser.review import AMENDS_FLAG
from services.parser.safety import SafetyParams, decide
from services.parser.spans import spans_of


@dataclass(frozen=True)
class ParseResult:
    """The outgoing messages (one per destination) plus what the model's work cost."""

    messages: tuple[OrderParsed | OrderRejected, ...]
    extracted: Extracted | None
    judgement: Judgement | None = None


# always: the model reads every order; fallback: only what the rules cannot accept; unread: that,
# and also accepted orders with a count of goods no line was read from (coverage.py).
ModelPolicy = Literal["always", "fallback", "unread"]
log = logging.getLogger("qm.parser")


class ParseFailed(RuntimeError):
    """The parser's own code failed on an order (a bug, with the text that meets it)."""


@dataclass(frozen=True)
class Understood:
    """One order's outcome, with the model's judgement and extraction when they ran."""

    outcome: Outcome
    extracted: Extracted | None = None
    judgement: Judgement | None = None
    injected: tuple[str, ...] = ()  # what the screen cut out, shown to the approver


def understand(
    text: str,
    submitted_at: datetime,
    scenario: Scenario,
    backend: LLMBackend | None,
    policy: ModelPolicy = "always",
    safety: SafetyParams | None = None,
    judge: RedLineJudge | None = None,
) -> Understood:
    """Blocking. Red lines are judged first, by rules and model; code decides every field.

    `judge` (the model-level layer) reads every order the rules do not refuse, injected
    segments included; `fallback` asks the model to extract only when the rules alone cannot
    accept the order.
    """
    pre = screen(text)
    judgement = None if pre.refused or judge is None else judge(pre.text)
    verdict = decide(pre, judgement, safety or SafetyParams())
    flags: tuple[str, ...] = ("injection",) if pre.injection else ()
    flags += tuple(f"normalised:{change}" for change in pre.normalised)
    if verdict.outcome != "clear" and verdict.category is not None:
        kind = Refused if verdict.outcome == "refused" else Held
        held = kind(verdict.category, verdict.reasons, flags, verdict.evidence, verdict.layer)
        return Understood(held, None, judgement, pre.injected)
    done = _read(text, pre, submitted_at, scenario, backend, policy, flags, judgement)
    return replace(done, injected=pre.injected)


def _read(
    text: str,
    pre: Screen,
    submitted_at: datetime,
    scenario: Scenario,
    backend: LLMBackend | None,
    policy: ModelPolicy,
    flags: tuple[str, ...],
    judgement: Judgement | None,
) -> Understood:
    """The fields of an order the red-line layers (or a person) let through."""
    several = _several(pre.clean_text, submitted_at, scenario, flags)
    if several is not None:
        return Understood(several, None, judgement)
    if backend is None:
        return Understood(interpret(text, submitted_at, scenario, None, pre), None, judgement)
    if policy != "always":
        alone = interpret(text, submitted_at, scenario, None, pre)
        # With `unread`, the rules' reading stands unless it left a count of goods unread.
        unsure = policy == "unread" and any(f.startswith(UNREAD_FLAG) for f in alone.flags)
        if isinstance(alone, Accepted) and not unsure:
            return Understood(alone, None, judgement)
    # The model only reads the text with injected segments removed.
    extracted = extract(backend, pre.clean_text)
    outcome = interpret(text, submitted_at, scenario, extracted.extraction, pre)
    return Understood(outcome, extracted, judgement)


def read_released(
    text: str,
    submitted_at: datetime,
    scenario: Scenario,
    backend: LLMBackend | None,
    policy: ModelPolicy = "fallback",
) -> Understood:
    """Blocking: the fields of an order a person released from safety review.

    The red-line layers are not asked again (a person decided); injection is still cut out,
    and a rule refusal can never have been released (the rules' refusals are never held).
    """
    pre = screen(text)
    flags = ("injection",) if pre.injection else ()
    done = _read(text, pre, submitted_at, scenario, backend, policy, flags, None)
    return replace(done, injected=pre.injected)


def _several(
    clean: str, submitted_at: datetime, scenario: Scenario, flags: tuple[str, ...]
) -> Several | Clarify | None:
    """Several requests in one text: each read alone, all accepted, or the whole asked back."""
    split = split_requests(clean, gazetteer(scenario), catalog(scenario))
    if split.unclear:
        return Clarify(("destination",), (split.unclear,), flags)
    if not split.parts:
        return None
    parts = []
    for destination, part in split.parts:
        outcome = interpret(part, submitted_at, scenario, None)
        if not isinstance(outcome, Accepted) or outcome.destination != destination:
            missing = outcome.missing if isinstance(outcome, Clarify) else ("destination",)
            reason = f"the request for {destination} cannot be read on its own"
            return Clarify(tuple(missing), (reason,), flags)
        parts.append(outcome)
    return Several(tuple(parts), flags)


def parse_many(
    orders: Sequence[OrderSubmitted],
    scenario: Scenario,
    backend: LLMBackend | None,
    policy: ModelPolicy = "fallback",
    concurrency: int = 1,
    judge: RedLineJudge | None = None,
    safety: SafetyParams | None = None,
) -> list[ParseResult | LLMError | ParseFailed]:
    """Blocking: understand a batch, up to `concurrency` orders at once (model calls overlap).

    A model failure, or a failure of the parser's own code on one order's text, is returned in
    place of its result, not raised (order is preserved): that order is dead-lettered with the
    reason and its bytes, and the rest of the batch goes on instead of being redelivered forever.
    """

    def one(order: OrderSubmitted) -> ParseResult | LLMError | ParseFailed:
        try:
            done = understand(
                order.text, order.occurred_at, scenario, backend, policy, safety, judge
            )
        except LLMError as err:
            return err
        except Exception as err:  # a bug met on this text: logged whole, never a stuck partition
            log.exception("parsing %s failed", order.order_id)
            return ParseFailed(f"{type(err).__name__}: {err}")
        parser = backend.name if done.extracted is not None and backend is not None else "rules"
        return ParseResult(to_messages(order, done, parser), done.extracted, done.judgement)

    if concurrency <= 1 or len(orders) <= 1:
        return [one(order) for order in orders]
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="parse") as pool:
        return list(pool.map(one, orders))


def to_messages(
    order: OrderSubmitted, done: Understood, parser: str
) -> tuple[OrderParsed | OrderRejected, ...]:
    """One message per demand: a text for several places becomes one order per place.

    The parts' ids derive from the order and the destination, so a replay matches them; every
    part carries the sender's claim over the whole text, checked once here.
    """
    result, claim = done.outcome, order.signed_submitter()
    if not isinstance(result, Several):
        return (to_message(order, result, parser, claim, done.injected),)
    count = len(result.parts)
    return tuple(
        to_message(
            order.model_copy(update={"order_id": f"{order.order_id}.{n}"}),
            replace(part, flags=(*part.flags, f"split:{n}/{count}:{order.order_id}")),
            parser,
            claim,
            done.injected,
        )
        for n, part in enumerate(result.parts, start=1)
    )


def to_message(
    order: OrderSubmitted,
    result: Accepted | Clarify | Refused | Held,
    parser: str,
    claim: Submitter | None,
    injected: tuple[str, ...],
) -> OrderParsed | OrderRejected:
    """Map an interpretation onto its contract; ids derive from the order so replays match."""
    message_id = content_id("msg", "parse", order.order_id)
    if order.amends:  # a version answering an unclear order: closes that one once published
        result = replace(result, flags=(*result.flags, f"{AMENDS_FLAG}{order.amends}"))
    if isinstance(result, Accepted):
        return OrderParsed(
            message_id=message_id,
            occurred_at=order.occurred_at,
            order_id=order.order_id,
            destination=result.destination,
            lines=tuple(DemandLine(sku=s, quantity=q, unit=u) for s, q, u in result.lines),
            priority=Priority(result.priority),
            not_before=result.not_before,
            deliver_by=result.deliver_by,
            requester=result.requester,
            submitted_by=order.submitted_by,
            submitter=claim,
            text=order.text,
            injected=injected,
            confidence=dict(result.confidence),
            sources=dict(result.sources),
            spans=_field_spans(order.text, result.quotes),
            flags=tuple(result.flags),
            parser=parser,
        )
    category = RefusalCategory(result.category) if isinstance(result, Refused | Held) else None
    outcome = (
        RejectionOutcome.REFUSED
        if isinstance(result, Refused)
        else RejectionOutcome.REVIEW
        if isinstance(result, Held)
        else RejectionOutcome.CLARIFY
    )
    missing = tuple(result.missing) if isinstance(result, Clarify) else ()
    evidence = tuple(result.evidence) if isinstance(result, Refused | Held) else ()
    return OrderRejected(
        message_id=message_id,
        occurred_at=order.occurred_at,
        order_id=order.order_id,
        outcome=outcome,
        category=category,
        missing=missing,
        reasons=tuple(result.reasons) or (outcome.value,),
        text=order.text,
        submitted_by=order.submitted_by,
        submitter=claim,
        injected=injected,
        flags=tuple(result.flags),
        evidence=evidence,
        evidence_spans=spans_of(order.text, evidence),
        decided_by=result.layer if isinstance(result, Refused | Held) else "",
    )


def _field_spans(
    text: str, quotes: dict[str, tuple[str, ...]]
) -> dict[str, tuple[tuple[int, int], ...]]:
    located = {name: spans_of(text, said) for name, said in quotes.items()}
    return {name: spans for name, spans in located.items() if spans}
