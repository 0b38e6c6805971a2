"""Every order's fate on the real broker, and the clarification loop: an order the parser asks
about is answered from the CLI by its requester, becomes a new signed version, and is planned
once; unsigned, stranger's and second answers move nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.envelope import content_id, utcnow
from schemas.orders import OrderSubmitted, Submitter, text_sha256
from schemas.topics import Topic
from services.cli.publishing import send_many
from services.common.settings import CommonSettings
from services.common.signing import load_private, sign_submission
from tests.e2e.conftest import Stack, wait_for

pytestmark = pytest.mark.kafka

UNCLEAR = "need 10 pallets of bottled water within 12 hrs. SGT T. BELL"


def _fate(stack: Stack, order_id: str) -> dict[str, Any]:
    return dict(stack.qm_json("orders", "show", order_id))


def _version(original: str, text: str, key: Ed25519PrivateKey | None, operator: str, n: int):
    order_id = content_id("ord", "hand-made-answer", original, n)
    claim = Submitter(
        order_id=order_id,
        text_sha256=text_sha256(text),
        operator_id=operator,
        role="requester",
        signed_at=utcnow(),
    )
    return OrderSubmitted(
        message_id=content_id("msg", order_id),
        occurred_at=utcnow(),
        order_id=order_id,
        text=text,
        submitted_by=operator,
        submitter=sign_submission(claim, key) if key else None,
        amends=original,
    )


def _publish(stack: Stack, orders: list[OrderSubmitted]) -> None:
    settings = CommonSettings(kafka_bootstrap=stack.env["KAFKA_BOOTSTRAP"])
    asyncio.run(send_many(settings, Topic.ORDERS_SUBMITTED, [(o, o.order_id) for o in orders]))


def test_an_unclear_order_is_answered_from_the_cli_and_planned_once(stack: Stack):
    stack.start("parser", QM_PARSER_BACKEND="rules")
    stack.start("planner", QM_PLANNER_BATCH_MAX_ORDERS="100", QM_PLANNER_BATCH_WINDOW_S="4")
    [sent] = stack.qm_json("order", "submit", UNCLEAR, "--as", "s4-clerk", "--wait")
    original = sent["order_id"]
    assert sent["status"] == "clarify" and sent["missing"] == ["destination"], sent
    assert sent["signed_by"] == "s4-clerk"
    listed = stack.qm_json("orders", "list", "--status", "clarify")
    assert original in {o["order_id"] for o in listed}

    # Answers that must not move it: unsigned, signed by a key nobody trusts, and by a trusted
    # operator who neither sent it nor may approve (the clerk's key claiming another name).
    state = Path(stack.env["QM_STATE_DIR"])
    clerk = load_private(state / "keys" / "s4-clerk.pem")
    answer = f"{UNCLEAR}\nANSWER: Deliver to FOB Halcyon."
    forged = [
        _version(original, answer, None, "s4-clerk", 1),
        _version(original, answer, Ed25519PrivateKey.generate(), "s4-clerk", 2),
        _version(original, answer, clerk, "duty-officer", 3),
    ]
    _publish(stack, forged)
    refused = wait_for(
        "the parser to refuse three forged answers",
        lambda: _outcomes(stack, [o.order_id for o in forged]),
        60,
        stack.logs,
    )
    assert [f["status"] for f in refused] == ["invalid"] * 3, refused
    reasons = " ".join(r for f in refused for r in f["reasons"])
    for code in ("unsigned", "unknown_key", "key_operator_mismatch"):
        assert f"({code})" in reasons, reasons
    assert _fate(stack, original)["status"] == "clarify"

    # The requester answers from the CLI: a new signed version, read as usual.
    out = stack.qm("orders", "answer", original, "--destination", "FOB Halcyon", "--as", "s4-clerk")
    assert "answering" in out.stdout
    fate = wait_for(
        "the answer to be planned", lambda: _answered_and_planned(stack, original), 120, stack.logs
    )
    version = fate["related"][0]
    assert version["fields"]["destination"] == "FOB-HALCYON"
    assert version["amends"] == original and version["signed_by"] == "s4-clerk"

    # A second answer to the same order, even a well-signed one, is refused and planned nowhere.
    late = _version(original, answer + " (again)", clerk, "s4-clerk", 4)
    _publish(stack, [late])
    [again] = wait_for(
        "the second answer to be refused", lambda: _outcomes(stack, [late.order_id]), 60, stack.logs
    )
    assert again["status"] == "invalid" and "(already_decided)" in again["reasons"][0]
    cli = stack.qm(
        "orders",
        "answer",
        original,
        "--destination",
        "FOB Halcyon",
        "--as",
        "s4-clerk",
        check=False,
    )
    assert cli.returncode != 0 and "not waiting for an answer" in cli.stderr

    plans = stack.qm_json("plans", "list")
    holding = {
        o: [p["plan_id"] for p in plans if o in p["orders"]]
        for o in (original, version["order_id"])
    }
    assert holding[original] == [] and len(holding[version["order_id"]]) == 1, holding
    watched = stack.qm("orders", "watch", "--once").stdout
    assert f"{original} answered" in watched and "planned" in watched


def _outcomes(stack: Stack, order_ids: list[str]) -> list[dict[str, Any]] | None:
    """Each order's fate once the parser has decided all of them."""
    known = {o["order_id"]: o for o in stack.qm_json("orders", "list")}
    fates = [known.get(o) for o in order_ids]
    if any(f is None or f["status"] == "submitted" for f in fates):
        return None
    return [f for f in fates if f is not None]


def _answered_and_planned(stack: Stack, original: str) -> dict[str, Any] | None:
    fate = _fate(stack, original)
    if fate["status"] != "answered" or not fate["related"]:
        return None
    return fate if fate["related"][0]["status"] == "planned" else None
