"""From a submitted order to the message that answers it: screen, extract, interpret."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
)
from services.common.scenario import Scenario
from services.parser.extract import Extracted, extract
from services.parser.interpret import Accepted, Clarify, Outcome, Refused, interpret
from services.parser.llm import LLMBackend, LLMError
from services.parser.policy import screen


@dataclass(frozen=True)
class ParseResult:
    """The outgoing message plus what the extraction cost."""

    message: OrderParsed | OrderRejected
    extracted: Extracted | None


ModelPolicy = Literal["always", "fallback"]


def understand(
    text: str,
    submitted_at: datetime,
    scenario: Scenario,
    backend: LLMBackend | None,
    policy: ModelPolicy = "always",
) -> tuple[Outcome, Extracted | None]:
    """Blocking. Red lines are screened before the model sees anything; code decides every field.

    `fallback` consults the model only when the rules alone cannot accept the order.
    """
    pre = screen(text)
    if pre.refused is not None or backend is None:
        return interpret(text, submitted_at, scenario, None, pre), None
    if policy == "fallback":
        alone = interpret(text, submitted_at, scenario, None, pre)
        if isinstance(alone, Accepted):
            return alone, None
    # The model only reads the text with injected segments removed.
    extracted = extract(backend, pre.clean_text)
    return interpret(text, submitted_at, scenario, extracted.extraction, pre), extracted


def parse_many(
    orders: Sequence[OrderSubmitted],
    scenario: Scenario,
    backend: LLMBackend | None,
    policy: ModelPolicy = "fallback",
    concurrency: int = 1,
) -> list[ParseResult | LLMError]:
    """Blocking: understand a batch, up to `concurrency` orders at once (model calls overlap).

    A model failure is returned in place of its result, not raised; order is preserved.
    """

    def one(order: OrderSubmitted) -> ParseResult | LLMError:
        try:
            result, extracted = understand(order.text, order.occurred_at, scenario, backend, policy)
        except LLMError as err:
            return err
        parser = backend.name if extracted is not None and backend is not None else "rules"
        return ParseResult(to_message(order, result, parser), extracted)

    if concurrency <= 1 or len(orders) <= 1:
        return [one(order) for order in orders]
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="parse") as pool:
        return list(pool.map(one, orders))


def to_message(
    order: OrderSubmitted, result: Accepted | Clarify | Refused, parser: str
) -> OrderParsed | OrderRejected:
    """Map an interpretation onto its contract; ids derive from the order so replays match."""
    message_id = content_id("msg", "parse", order.order_id)
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
            text=order.text,
            confidence=dict(result.confidence),
            flags=tuple(result.flags),
            parser=parser,
        )
    category = RefusalCategory(result.category) if isinstance(result, Refused) else None
    outcome = RejectionOutcome.REFUSED if category else RejectionOutcome.CLARIFY
    missing = () if isinstance(result, Refused) else tuple(result.missing)
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
        flags=tuple(getattr(result, "flags", ())),
    )
