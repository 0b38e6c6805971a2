"""Payloads the v1.0 contracts wrote keep decoding with today's decoder, and what was hashed or
signed then still hashes and verifies the same (the release and audit topics keep them forever).

The stored bytes (tests/schemas/payloads/v1.0/<topic>.json) were written by the v1.0 models
rebuilt from git history; see tests/schemas/legacy.py.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.audit import AuditRecorded
from schemas.orders import (
    OrderParsed,
    OrderRejected,
    OrderReviewed,
    OrderSubmitted,
    Priority,
    RefusalCategory,
    RejectionOutcome,
    ReviewDecision,
)
from schemas.plans import Decision, PlanDecided, PlanProposed, PlanReleased
from schemas.topics import CONTRACTS, Topic
from services.common.codec import decode
from services.common.signing import TrustedKey, verify_approval, verify_decision, verify_payload
from tests.schemas.legacy import V1_0, history_available, write_v1_0

LIMIT = 256 * 1024
ENVELOPE = ("message_id", "occurred_at", "schema_version")


def _raw(topic: Topic) -> bytes:
    return (V1_0 / f"{topic.value}.json").read_bytes()


def _stored(topic: Topic) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_raw(topic))
    return loaded


def _operator() -> TrustedKey:
    return TrustedKey.model_validate_json((V1_0 / "operator.json").read_bytes())


def _decoded(topic: Topic) -> Any:
    return decode(CONTRACTS[topic], _raw(topic), LIMIT)


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    """Where today's dump of a decoded message lost or changed an old value, or added a field
    that is not empty (a v1.1 field must default to nothing for a v1.0 message)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = [f"{where}.{k}: lost" for k in old if k not in new]
        found += [
            f"{where}.{k}: added {new[k]!r}" for k in new if k not in old and not _empty(new[k])
        ]
        for key in old.keys() & new.keys():
            found += _differences(old[key], new[key], f"{where}.{key}")
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (o, n) in enumerate(zip(old, new, strict=True))
            for d in _differences(o, n, f"{where}[{i}]")
        ]
    return [] if old == new else [f"{where}: {old!r} became {new!r}"]


def test_every_topic_has_a_stored_v1_0_payload() -> None:
    stored = {path.name for path in V1_0.glob("*.v1.json")}
    assert stored == {f"{topic.value}.json" for topic in Topic}


@pytest.mark.parametrize("topic", list(Topic), ids=str)
def test_a_stored_v1_0_payload_decodes_and_keeps_every_value(topic: Topic) -> None:
    message = _decoded(topic)
    assert isinstance(message, CONTRACTS[topic])
    assert message.schema_version == "1.0"
    now = message.model_dump(mode="json")
    assert _differences(_stored(topic), now) == []


def test_the_difference_check_sees_a_lost_and_an_added_value() -> None:
    """Guard: the comparison above would notice a dropped field or a non-empty new one."""
    old = {"a": 1, "b": [{"c": "x"}]}
    assert _differences(old, {"a": 1, "b": [{"c": "x"}], "new": None}) == []
    assert _differences(old, {"a": 1, "b": [{}]}) == [".b[0].c: lost"]
    assert _differences(old, {"a": 2, "b": [{"c": "x"}], "new": "set"}) == [
        ".new: added 'set'",
        ".a: 1 became 2",
    ]


def test_a_v1_0_submission_has_no_signed_submitter_and_amends_nothing() -> None:
    order = _decoded(Topic.ORDERS_SUBMITTED)
    assert isinstance(order, OrderSubmitted)
    assert order.text.startswith("Need 4 pallets of water") and order.submitted_by == "s4-clerk"
    assert order.submitter is None and order.signed_submitter() is None
    assert order.amends is None


def test_a_v1_0_parsed_order_keeps_its_demand() -> None:
    order = _decoded(Topic.ORDERS_PARSED)
    assert isinstance(order, OrderParsed)
    assert order.destination == "FOB-HALCYON" and order.priority is Priority.PRIORITY
    assert [(line.sku, line.quantity, line.unit) for line in order.lines] == [
        ("WATER-PALLET", 4, "pallet"),
        ("MRE-CASE", 10, "case"),
    ]
    assert order.deliver_by == datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
    assert order.submitter is None and order.injected == ()


def test_a_v1_0_refusal_is_still_a_refusal_with_its_category() -> None:
    refusal = _decoded(Topic.ORDERS_REJECTED)
    assert isinstance(refusal, OrderRejected)
    assert refusal.outcome is RejectionOutcome.REFUSED
    assert refusal.category is RefusalCategory.SURVEILLANCE
    assert refusal.reasons == ("asks to watch and list the people who visit a clinic",)
    assert (refusal.evidence, refusal.decided_by, refusal.injected) == ((), "", ())


def test_the_stored_v1_0_plan_hash_still_matches_its_content() -> None:
    """`content()` leaves out the empty v1.1 fields exactly so that old hashes hold."""
    plan = _decoded(Topic.PLANS_PROPOSED)
    assert isinstance(plan, PlanProposed)
    assert plan.submitters == () and plan.supersedes is None
    old = _stored(Topic.PLANS_PROPOSED)
    hashed = {k: v for k, v in old.items() if k not in (*ENVELOPE, "plan_hash")}
    assert hashed.pop("supersedes") is None  # v1.0 already left an unset `supersedes` out
    assert plan.content() == hashed
    assert plan.computed_hash() == old["plan_hash"] == plan.plan_hash


def test_a_changed_stop_would_no_longer_match_the_stored_hash() -> None:
    """Guard: the hash check above is live; one minute moved on the route breaks it."""
    old = _stored(Topic.PLANS_PROPOSED)
    old["routes"][0]["stops"][0]["arrival"] = "2026-11-21T05:42:00Z"
    edited = decode(PlanProposed, json.dumps(old).encode(), LIMIT)
    assert edited.computed_hash() != edited.plan_hash


def test_the_stored_v1_0_decision_signature_still_verifies() -> None:
    decision = _decoded(Topic.PLANS_DECIDED)
    assert isinstance(decision, PlanDecided)
    assert decision.decision is Decision.APPROVE and decision.operator_id == "duty-officer"
    plan = _decoded(Topic.PLANS_PROPOSED)
    assert (decision.plan_id, decision.plan_hash) == (plan.plan_id, plan.plan_hash)
    key = _operator()
    assert decision.key_id == key.key_id
    assert verify_decision(decision, key)
    assert decision.signed_payload() == {
        "type": "qm.plan-decision.v1",
        "plan_id": plan.plan_id,
        "plan_hash": plan.plan_hash,
        "decision": "approve",
        "operator_id": "duty-officer",
        "role": "approver",
        "reason": "route checked against the road report",
        "decided_at": "2026-11-20T08:05:00+00:00",
        "expires_at": "2026-11-20T08:35:00+00:00",
        "key_id": key.key_id,
    }
    other = decision.model_copy(update={"reason": "route checked"})
    assert not verify_decision(other, key)


def test_the_stored_v1_0_release_still_verifies_offline() -> None:
    release = _decoded(Topic.PLANS_RELEASED)
    assert isinstance(release, PlanReleased)
    assert release.plan == _decoded(Topic.PLANS_PROPOSED)
    (approval,) = release.approvals
    assert approval.decision_id == _decoded(Topic.PLANS_DECIDED).message_id
    assert verify_approval(release, approval, _operator())


def test_the_stored_v1_0_review_signature_still_verifies() -> None:
    review = _decoded(Topic.ORDERS_REVIEWED)
    assert isinstance(review, OrderReviewed)
    assert review.decision is ReviewDecision.RELEASE and review.category is None
    held = (
        "2 crates of 5.56 to COP Wren for Thursday's range day; the checkpoint team shoots first."
    )
    assert review.text_sha256 == hashlib.sha256(held.encode()).hexdigest()
    assert verify_payload(review.signed_payload(), review.signature, _operator())


def test_the_stored_v1_0_audit_entry_still_hashes_to_itself() -> None:
    entry = _decoded(Topic.AUDIT_EVENTS)
    assert isinstance(entry, AuditRecorded)
    assert entry.kind == "decision_recorded" and entry.seq == 0
    assert entry.decision_id == _decoded(Topic.PLANS_DECIDED).message_id
    assert entry.computed_hash() == entry.entry_hash


@pytest.mark.skipif(not history_available(), reason="needs the git history of the contracts")
def test_the_stored_payloads_are_what_the_v1_0_models_write(tmp_path: Path) -> None:
    """Rebuild the v1.0 models from git history and write again: the same bytes."""
    write_v1_0(tmp_path)
    fresh = {path.name: path.read_bytes() for path in sorted(tmp_path.iterdir())}
    stored = {path.name: path.read_bytes() for path in sorted(V1_0.iterdir())}
    assert fresh == stored
