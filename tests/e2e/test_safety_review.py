"""End to end on the real broker: orders held for safety review move only by a signed review."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.envelope import content_id, utcnow
from schemas.orders import (
    OrderParsed,
    OrderRejected,
    OrderReviewed,
    RefusalCategory,
    RejectionOutcome,
    ReviewDecision,
    text_sha256,
)
from schemas.topics import Topic
from services.cli.publishing import send_many
from services.common.codec import DecodeError, decode
from services.common.kafka import read_topics
from services.common.settings import CommonSettings
from services.common.signing import load_private, sign_review
from tests.e2e.conftest import Stack, wait_for

pytestmark = pytest.mark.kafka

# Each reports an event in words the rules read as force: without a model to settle it, the
# parser holds it for a person instead of accepting or refusing it.
HELD = [
    "After the ambush on the north road last week, please send 20 blankets to Gullwing Camp "
    "within 20 hours. Thanks, Ana Ruiz",
    "Since the ambush at the ford yesterday we need 6 pallets of bottled water at FOB Halcyon "
    "within 12 hrs. SGT T. BELL",
]


def _submit(stack: Stack, tmp_path: Path, texts: list[str]) -> list[str]:
    file = tmp_path / "held.jsonl"
    file.write_text("".join(f'{{"text": "{t}"}}\n' for t in texts))
    return [o["order_id"] for o in stack.qm_json("order", "submit", "--file", str(file))]


def _outputs(stack: Stack, ids: set[str]) -> tuple[list[OrderParsed], list[OrderRejected]]:
    topics = [Topic.ORDERS_PARSED.value, Topic.ORDERS_REJECTED.value]
    parsed, rejected = [], []
    for record in asyncio.run(read_topics(stack.env["KAFKA_BOOTSTRAP"], topics)):
        with contextlib.suppress(DecodeError):  # other tests' poison shares the topics
            if record.topic == Topic.ORDERS_PARSED.value:
                message = decode(OrderParsed, record.value, 1 << 20)
                if any(f.removeprefix("review_of:") in ids for f in message.flags):
                    parsed.append(message)
            else:
                rejected_one = decode(OrderRejected, record.value, 1 << 20)
                if rejected_one.order_id in ids:
                    rejected.append(rejected_one)
    return parsed, rejected


def _forged(stack: Stack, order_id: str, **change: object) -> OrderReviewed:
    """A release signed by a trusted operator's key, with one field an attacker changed."""
    now = utcnow()
    review = OrderReviewed(
        message_id=content_id("rev", order_id, "attack", str(change), now.isoformat()),
        occurred_at=now,
        order_id=order_id,
        text_sha256=text_sha256("some other text than the held one"),
        decision=ReviewDecision.RELEASE,
        operator_id="duty-officer",
        role="approver",
        reason="attack",
        decided_at=now,
        expires_at=now + timedelta(minutes=30),
    )
    key = load_private(Path(stack.env["QM_STATE_DIR"]) / "keys" / "duty-officer.pem")
    return sign_review(review.model_copy(update=change), key)


def test_held_orders_move_only_by_a_verified_signed_review(stack: Stack, tmp_path: Path) -> None:
    """Held → released by a signature over its text, another refused; forgeries move nothing."""
    stack.start("parser", QM_PARSER_BACKEND="rules")
    released_id, refused_id = _submit(stack, tmp_path, HELD)
    ids = {released_id, refused_id}
    held = wait_for(
        "both orders held for review",
        lambda: (
            r
            if len(
                r := [m for m in _outputs(stack, ids)[1] if m.outcome is RejectionOutcome.REVIEW]
            )
            == 2
            else None
        ),
        90,
        stack.logs,
    )
    assert all(m.evidence and "ambush" in m.evidence[0] for m in held)
    queue = {row["order_id"]: row for row in stack.qm_json("orders", "review")}
    assert ids <= set(queue) and "ambush" in queue[released_id]["text"]

    # Attacks first, each signed by a trusted key: none may release anything.
    sha = text_sha256(next(m.text for m in held if m.order_id == released_id) or "")
    now = utcnow()
    attacks = [
        _forged(stack, released_id),  # signature over other words than the held text
        _forged(stack, released_id, text_sha256=sha, role="observer"),  # role may not review
        _forged(stack, released_id, text_sha256=sha, decided_at=now + timedelta(hours=2),
                expires_at=now + timedelta(hours=3)),  # decided in the future
        _forged(stack, released_id, text_sha256=sha, expires_at=now + timedelta(days=30)),
        _forged(stack, "ord-never-held", text_sha256=sha),  # no such held order
    ]  # fmt: skip
    unsigned = _forged(stack, released_id, text_sha256=sha).model_copy(update={"signature": ""})
    tampered = _forged(stack, released_id, text_sha256=sha).model_copy(update={"reason": "x"})
    other_key = sign_review(
        _forged(stack, released_id, text_sha256=sha), Ed25519PrivateKey.generate()
    )
    attacks += [unsigned, tampered, other_key]
    settings = CommonSettings(kafka_bootstrap=stack.env["KAFKA_BOOTSTRAP"])
    asyncio.run(send_many(settings, Topic.ORDERS_REVIEWED, [(a, a.order_id) for a in attacks]))
    wait_for(
        "every forged review refused",
        lambda: stack.metric("parser", "qm_parser_reviews_total") >= len(attacks),
        60,
        stack.logs,
    )
    assert (
        stack.metric("parser", 'qm_parser_reviews_total{decision="release",outcome="applied"}') == 0
    )
    assert _outputs(stack, ids)[0] == [], "a forged review released a held order"

    stack.qm(
        "orders", "release", released_id[:12], "--as", "duty-officer", "--reason", "past event"
    )
    stack.qm(
        "orders", "refuse", refused_id, "--category", "use_of_force",
        "--as", "second-officer", "--reason", "reads as a threat",
    )  # fmt: skip
    parsed = wait_for("the released order parsed", lambda: _outputs(stack, ids)[0], 60, stack.logs)
    assert [p.order_id for p in parsed] == [released_id]
    assert "released_by:duty-officer" in parsed[0].flags and parsed[0].destination
    refused = wait_for(
        "the refusal published",
        lambda: [m for m in _outputs(stack, ids)[1] if m.outcome is RejectionOutcome.REFUSED],
        60,
        stack.logs,
    )
    assert refused[0].order_id == refused_id
    assert refused[0].category is RefusalCategory.USE_OF_FORCE
    assert refused[0].decided_by == "human:second-officer"
    assert {row["order_id"] for row in stack.qm_json("orders", "review")}.isdisjoint(ids)

    # The CLI no longer offers it; a second valid release sent anyway applies nothing.
    assert stack.qm("orders", "release", released_id, "--as", "duty-officer", "--reason", "again",
                    check=False).returncode != 0  # fmt: skip
    again = _forged(stack, released_id, text_sha256=sha, reason="again")
    asyncio.run(send_many(settings, Topic.ORDERS_REVIEWED, [(again, released_id)]))
    wait_for(
        "the replayed review refused",
        lambda: stack.metric("parser", "qm_parser_reviews_total") >= len(attacks) + 3,
        60,
        stack.logs,
    )
    assert len(_outputs(stack, ids)[0]) == 1
    assert (
        stack.metric(
            "parser", 'qm_parser_reviews_total{decision="release",outcome="already_decided"}'
        )
        == 1
    )
