"""`qm orders review | release | refuse`: the safety-review queue, worked by signed decisions."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape

from schemas.envelope import content_id, utcnow
from schemas.orders import (
    OrderRejected,
    OrderReviewed,
    RefusalCategory,
    ReviewDecision,
    text_sha256,
)
from schemas.topics import Topic
from services.cli.context import console, fail, operator_key, print_json, run, settings
from services.cli.publishing import send
from services.cli.view import chars
from services.common.kafka import KafkaUnavailable, read_topics
from services.common.signing import sign_review
from services.parser.review import HISTORY_TOPICS, ReviewState, held_orders

app = typer.Typer(
    help="Every order's fate; orders waiting for an answer or a person's safety review.",
    no_args_is_help=True,
)
Operator = Annotated[str, typer.Option("--as", envvar="QM_OPERATOR", help="Your operator id.")]
Reason = Annotated[str, typer.Option(help="Why: recorded and signed with the review.")]
Role = Annotated[str, typer.Option(help="Role you act in (reviewer or approver).")]
Valid = Annotated[int, typer.Option(help="Minutes the review stays valid.")]


async def _held() -> dict[str, OrderRejected]:
    """Orders held for review and not yet released or refused by a person."""
    state = ReviewState()
    state.absorb(
        await read_topics(settings().kafka_bootstrap, HISTORY_TOPICS), settings().max_message_bytes
    )
    return dict(held_orders(state))


def _load() -> dict[str, OrderRejected]:
    try:
        return run(_held())
    except KafkaUnavailable as err:
        fail(str(err))


def _row(order: OrderRejected) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "held_at": order.occurred_at.isoformat(),
        "category": order.category.value if order.category else None,
        "decided_by": order.decided_by,
        "reasons": list(order.reasons),
        "evidence": list(order.evidence),
        "evidence_spans": [list(span) for span in order.evidence_spans],
        "flags": list(order.flags),
        "submitted_by": order.submitted_by,
        "text": order.text,
        "text_sha256": text_sha256(order.text or ""),
    }


@app.command("review")
def review(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """List the orders held for safety review: the requester's words and the evidence."""
    held = sorted(_load().values(), key=lambda o: o.occurred_at)
    if json_out:
        print_json([_row(o) for o in held])
        return
    if not held:
        console.print("no orders are held for safety review")
        return
    for order in held:
        console.print(
            f"[bold]{escape(order.order_id)}[/bold]  held {order.occurred_at:%d %H:%MZ}  "
            f"suspected {escape(order.category.value if order.category else '-')} "
            f"by {escape(order.decided_by or '-')}"
        )
        for line in order.evidence:
            console.print(f"  evidence: [yellow]{escape(line)}[/yellow]")
        if order.evidence_spans:
            console.print(f"  evidence found in the text{chars(order.evidence_spans)}")
        console.print(f"  reasons:  {escape('; '.join(order.reasons))}")
        console.print(f"  text:     {escape(order.text or '')}")
    console.print(
        "decide with: qm orders release ID --reason … | qm orders refuse ID --category … --reason …"
    )


def _decide(
    order_id: str,
    decision: ReviewDecision,
    category: RefusalCategory | None,
    operator: str,
    role: str,
    reason: str,
    valid_for_min: int,
) -> None:
    held = _load()
    matches = [k for k in held if k.startswith(order_id)]
    if len(matches) != 1:
        fail(f"{order_id!r} matches {len(matches)} held orders; `qm orders review` lists them")
    order = held[matches[0]]
    private = operator_key(operator)
    now = utcnow()
    unsigned = OrderReviewed(
        message_id=content_id("rev", order.order_id, operator, decision.value, now.isoformat()),
        occurred_at=now,
        order_id=order.order_id,
        text_sha256=text_sha256(order.text or ""),
        decision=decision,
        category=category,
        operator_id=operator,
        role=role,
        reason=reason,
        decided_at=now,
        expires_at=now + timedelta(minutes=valid_for_min),
    )
    signed = sign_review(unsigned, private)
    run(send(Topic.ORDERS_REVIEWED, signed, signed.order_id))
    console.print(
        f"{decision.value} of {signed.order_id} signed by {operator} ({signed.key_id}) and sent; "
        "the parser verifies it"
    )


@app.command("release")
def release(
    order_id: str,
    reason: Reason,
    operator: Operator,
    role: Role = "approver",
    valid_for: Valid = 60,
) -> None:
    """Release a held order to planning with your signature (you read its text)."""
    _decide(order_id, ReviewDecision.RELEASE, None, operator, role, reason, valid_for)


@app.command("refuse")
def refuse(
    order_id: str,
    category: Annotated[RefusalCategory, typer.Option(help="The red line it crosses.")],
    reason: Reason,
    operator: Operator,
    role: Role = "approver",
    valid_for: Valid = 60,
) -> None:
    """Refuse a held order for a red line, with your signature."""
    _decide(order_id, ReviewDecision.REFUSE, category, operator, role, reason, valid_for)
