"""From a submitted order to the message that answers it: screen, extract, interpret."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

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
from services.parser.interpret import Accepted, Clarify, Refused, interpret
from services.parser.llm import LLMBackend
from services.parser.policy import screen


@dataclass(frozen=True)
class ParseResult:
    """The outgoing message plus what the extraction cost."""

    message: OrderParsed | OrderRejected
    extracted: Extracted | None


async def parse_order(
    order: OrderSubmitted, scenario: Scenario, backend: LLMBackend | None
) -> ParseResult:
    """Red lines are checked before the model sees anything; code decides every field."""
    pre = screen(order.text)
    extracted: Extracted | None = None
    if pre.refused is None and backend is not None:
        # The model only reads the text with injected segments removed.
        extracted = await asyncio.to_thread(extract, backend, pre.clean_text)
    result = interpret(
        order.text, order.occurred_at, scenario, extracted.extraction if extracted else None
    )
    parser = backend.name if backend is not None else "rules"
    return ParseResult(to_message(order, result, parser), extracted)


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
