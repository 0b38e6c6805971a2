"""Security suite against the running gate on the real broker.

Hundreds of forged, tampered, replayed, expired, wrong-role, self-approval, single-key
double-signature and superseded-plan decisions, then revisions of released plans that move a
committed stop or reuse a released order: each is refused with the right reason code (read back
from the audit trail) and none releases anything; every honest decision releases its plan
exactly once. Finally an archived copy of the trail with one entry modified, removed (also the
last one) or reordered fails `qm audit verify`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.audit import AuditRecorded
from schemas.envelope import content_id, utcnow
from schemas.plans import PlanDecided, PlanProposed, PlanReleased
from schemas.topics import Topic
from services.cli.publishing import send_many
from services.common.audit import first_broken_link
from services.common.codec import DecodeError, decode
from services.common.kafka import read_topics
from services.common.settings import CommonSettings
from services.common.signing import TrustStore, load_private, sign_decision, trusted_key_for
from services.gate.rules import Refusal
from tests import factories as f
from tests.e2e.conftest import Stack, wait_for

pytestmark = pytest.mark.kafka
ROUTINE_PLANS = 24
RISKY_PLANS = 5
SUPERSEDED_PLANS = 6
REVISED_PLANS = 4
RUN = utcnow().isoformat()


def _rehash(plan: PlanProposed, **update: object) -> PlanProposed:
    draft = plan.model_copy(update=update)
    return draft.model_copy(update={"plan_hash": draft.computed_hash()})


def _unique(plan: PlanProposed, n: int, **update: object) -> PlanProposed:
    """The factory plan with its own plan id and its own order id."""
    order_id = content_id("ord", "sec", n, RUN)
    routes = tuple(
        r.model_copy(
            update={"stops": tuple(s.model_copy(update={"order_id": order_id}) for s in r.stops)}
        )
        for r in plan.routes
    )
    return _rehash(
        plan,
        plan_id=content_id("plan", "sec", n, RUN),
        order_ids=(order_id,),
        routes=routes,
        **update,
    )


def _revise(plan: PlanProposed, n: int, vehicle_id: str | None = None) -> PlanProposed:
    """A plan superseding `plan` with the same stops, optionally on another vehicle."""
    routes = tuple(
        r.model_copy(update={"vehicle_id": vehicle_id or r.vehicle_id}) for r in plan.routes
    )
    return _rehash(
        plan, plan_id=content_id("plan", "rev", n, RUN), routes=routes, supersedes=plan.plan_id
    )


def _decide(
    plan: PlanProposed, key: Ed25519PrivateKey | None, operator: str, tag: str, **update: object
) -> PlanDecided:
    now = utcnow()
    fields: dict[str, object] = {
        "message_id": content_id("dec", plan.plan_id, tag),
        "occurred_at": now,
        "plan_id": plan.plan_id,
        "plan_hash": plan.plan_hash,
        "decision": "approve",
        "operator_id": operator,
        "role": "approver",
        "reason": tag,
        "decided_at": now,
        "expires_at": now + timedelta(hours=1),
        **update,
    }
    unsigned = PlanDecided.model_validate(fields)
    return sign_decision(unsigned, key) if key else unsigned


class Keys:
    """The operators of the suite: two approvers, an observer, and a stranger nobody trusts."""

    def __init__(self, state: Path) -> None:
        self.duty = load_private(state / "keys" / "duty-officer.pem")
        self.second = load_private(state / "keys" / "second-officer.pem")
        self.observer = Ed25519PrivateKey.generate()
        self.stranger = Ed25519PrivateKey.generate()
        store = TrustStore.load(state / "trust" / "operators.json")
        store.add(trusted_key_for(self.observer, "observer", "Observer", ("observer",)))
        store.sign(load_private(state / "keys" / "admin.pem"))
        store.save(state / "trust" / "operators.json")


def _attacks(plan: PlanProposed, keys: Keys) -> list[tuple[PlanDecided, Refusal]]:
    """Every way to try to release one routine plan without an honest approval."""
    honest = _decide(plan, keys.duty, "duty-officer", "template")
    return [
        (_decide(plan, None, "duty-officer", "unsigned"), Refusal.UNSIGNED),
        (
            honest.model_copy(
                update={"reason": "edited", "message_id": content_id("t", plan.plan_id)}
            ),
            Refusal.BAD_SIGNATURE,
        ),
        (
            _decide(plan, keys.duty, "duty-officer", "wrong-hash", plan_hash="e" * 64),
            Refusal.HASH_MISMATCH,
        ),
        (_decide(plan, keys.stranger, "duty-officer", "stranger"), Refusal.UNKNOWN_KEY),
        (_decide(plan, keys.duty, "second-officer", "borrowed-key"), Refusal.KEY_OPERATOR_MISMATCH),
        (
            _decide(plan, keys.observer, "observer", "observer", role="observer"),
            Refusal.ROLE_NOT_PERMITTED,
        ),
        (_decide(plan, keys.observer, "observer", "claims-role"), Refusal.ROLE_NOT_PERMITTED),
        (
            _decide(
                plan,
                keys.duty,
                "duty-officer",
                "expired",
                decided_at=utcnow() - timedelta(hours=2),
                expires_at=utcnow() - timedelta(hours=1),
            ),
            Refusal.DECISION_EXPIRED,
        ),
    ]


def _audit(bootstrap: str) -> list[AuditRecorded]:
    records = asyncio.run(read_topics(bootstrap, [Topic.AUDIT_EVENTS.value]))
    return [
        decode(AuditRecorded, r.value, 1 << 20) for r in sorted(records, key=lambda r: r.offset)
    ]


def _releases(bootstrap: str) -> list[PlanReleased]:
    records = asyncio.run(read_topics(bootstrap, [Topic.PLANS_RELEASED.value]))
    return [decode(PlanReleased, r.value, 1 << 20) for r in records]


def _wait_until_the_gate_knows_every_proposal(stack: Stack) -> None:
    records = asyncio.run(read_topics(stack.env["KAFKA_BOOTSTRAP"], [Topic.PLANS_PROPOSED.value]))
    plan_ids = set()
    for record in records:
        with contextlib.suppress(DecodeError):  # other tests' poison messages
            plan_ids.add(decode(PlanProposed, record.value, 1 << 20).plan_id)

    def known() -> bool:
        with contextlib.suppress(OSError):  # metrics server not listening yet
            return stack.metric("gate", "qm_gate_plans_known") == len(plan_ids)
        return False

    wait_for(f"the gate to read all {len(plan_ids)} proposals", known, 60, stack.logs)


def _judged(bootstrap: str, ids: set[str], logs: Path) -> dict[str, AuditRecorded]:
    def complete() -> list[AuditRecorded] | None:
        trail = _audit(bootstrap)
        return trail if {e.decision_id for e in trail} >= ids else None

    trail = wait_for("every decision in the audit trail", complete, 180, logs)
    assert first_broken_link(trail) is None
    return {e.decision_id: e for e in trail if e.decision_id in ids}


def _misjudged(
    outcome: dict[str, AuditRecorded], expected: dict[str, Refusal]
) -> dict[str, tuple[str, str]]:
    return {
        d: (outcome[d].reason, r.value)
        for d, r in expected.items()
        if outcome[d].kind != "decision_refused" or outcome[d].reason != r.value
    }


def test_the_gate_refuses_every_attack_and_releases_every_honest_plan_once(
    stack: Stack, tmp_path: Path
):
    bootstrap = stack.env["KAFKA_BOOTSTRAP"]
    keys = Keys(Path(stack.env["QM_STATE_DIR"]))
    stack.start("gate", QM_GATE_PLAN_WAIT_S="0.5")
    routine = [_unique(f.plan(), n) for n in range(ROUTINE_PLANS)]
    risky = [_unique(f.plan(handling=("hazmat",)), 100 + n) for n in range(RISKY_PLANS)]
    own = _unique(f.plan(requested_by=("duty-officer",)), 200)
    stale = _unique(f.plan(), 201, expires_at=utcnow() - timedelta(minutes=1))
    unknown = _unique(f.plan(), 202)  # never proposed
    replaced = [_unique(f.plan(), 300 + n) for n in range(SUPERSEDED_PLANS)]
    successors = [_revise(plan, 300 + n) for n, plan in enumerate(replaced)]

    expected: dict[str, Refusal] = {}
    decisions: list[PlanDecided] = []
    honest: list[PlanDecided] = []
    for plan in routine:
        for decision, reason in _attacks(plan, keys):
            decisions.append(decision)
            expected[decision.message_id] = reason
        approval = _decide(plan, keys.duty, "duty-officer", "honest")
        honest.append(approval)
    for plan in risky:
        first = _decide(plan, keys.duty, "duty-officer", "first")
        twice = _decide(plan, keys.duty, "duty-officer", "same-key-again")
        decisions += [first, twice]
        expected[twice.message_id] = Refusal.DUPLICATE
        honest.append(_decide(plan, keys.second, "second-officer", "second"))
    for plan, reason in (
        (own, Refusal.SELF_APPROVAL),
        (stale, Refusal.PLAN_EXPIRED),
        (unknown, Refusal.UNKNOWN_PLAN),
    ):
        attempt = _decide(plan, keys.duty, "duty-officer", "edge")
        decisions.append(attempt)
        expected[attempt.message_id] = reason
    for plan, successor in zip(replaced, successors, strict=True):
        for attempt in (
            _decide(plan, keys.duty, "duty-officer", "superseded"),
            _decide(plan, keys.second, "second-officer", "superseded"),
            _decide(plan, keys.duty, "duty-officer", "superseded-reject", decision="reject"),
        ):
            decisions.append(attempt)
            expected[attempt.message_id] = Refusal.SUPERSEDED
        honest.append(_decide(successor, keys.duty, "duty-officer", "successor"))
    replays = [
        d.model_copy(update={"message_id": content_id("replay", d.message_id)}) for d in honest[:10]
    ]
    for replay in replays:
        expected[replay.message_id] = Refusal.ALREADY_RELEASED

    settings = CommonSettings(kafka_bootstrap=bootstrap)
    proposals = [*routine, *risky, own, stale, *replaced, *successors]
    asyncio.run(send_many(settings, Topic.PLANS_PROPOSED, [(p, p.plan_id) for p in proposals]))
    # Decisions race proposals through different consumers; a superseded plan must be known as
    # superseded before its decisions arrive, as it would be in service.
    _wait_until_the_gate_knows_every_proposal(stack)
    asyncio.run(
        send_many(
            settings, Topic.PLANS_DECIDED, [(d, d.plan_id) for d in [*decisions, *honest, *replays]]
        )
    )
    ids = set(expected) | {d.message_id for d in honest}
    outcome = _judged(bootstrap, ids, stack.logs)
    wrong = _misjudged(outcome, expected)
    assert wrong == {}, f"{len(wrong)} attacks not refused for the right reason: {wrong}"
    assert all(outcome[d.message_id].kind == "plan_released" for d in honest)

    # Phase two, against released plans: their stops are committed to their vehicles.
    released_base = routine[:REVISED_PLANS]
    kept = [_revise(plan, 500 + n) for n, plan in enumerate(released_base)]
    moved = [_revise(plan, 600 + n, "HBR-TRK-2") for n, plan in enumerate(released_base)]
    reused = [_rehash(plan, plan_id=content_id("plan", "reuse", plan.plan_id)) for plan in routine]
    later: dict[str, Refusal] = {}
    attempts = []
    for plan, reason in [(p, Refusal.LOCK_VIOLATED) for p in moved] + [
        (p, Refusal.ORDER_ALREADY_RELEASED) for p in reused
    ]:
        attempt = _decide(plan, keys.duty, "duty-officer", "after-release")
        attempts.append(attempt)
        later[attempt.message_id] = reason
    honest_later = [_decide(plan, keys.duty, "duty-officer", "revision") for plan in kept]
    phase_two = [*kept, *moved, *reused]
    asyncio.run(send_many(settings, Topic.PLANS_PROPOSED, [(p, p.plan_id) for p in phase_two]))
    _wait_until_the_gate_knows_every_proposal(stack)
    asyncio.run(
        send_many(
            settings, Topic.PLANS_DECIDED, [(d, d.plan_id) for d in [*attempts, *honest_later]]
        )
    )
    outcome = _judged(bootstrap, set(later) | {d.message_id for d in honest_later}, stack.logs)
    wrong = _misjudged(outcome, later)
    assert wrong == {}, f"{len(wrong)} revisions not refused for the right reason: {wrong}"
    assert all(outcome[d.message_id].kind == "plan_released" for d in honest_later)
    assert len(expected) + len(later) >= 200

    ours = {p.plan_id for p in [*proposals, *phase_two, unknown]}
    released = Counter(r.plan_id for r in _releases(bootstrap) if r.plan_id in ours)
    assert released == Counter({p.plan_id: 1 for p in [*routine, *risky, *successors, *kept]})
    assert stack.alive() == {"gate": True}
    _tampered_archives_fail_verification(stack, tmp_path)


def _tampered_archives_fail_verification(stack: Stack, tmp_path: Path) -> None:
    archive = tmp_path / "trail.jsonl"
    stack.qm("audit", "export", str(archive))
    lines = archive.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 200
    stack.qm("audit", "verify", "--file", str(archive), "--grace", "0")
    edited = lines[7].replace(b'"reason":"', b'"reason":"x', 1)
    assert edited != lines[7]
    tampered = {
        "modified": [*lines[:7], edited, *lines[8:]],
        "removed": [*lines[:7], *lines[8:]],
        "removed-last": lines[:-1],
        "reordered": [*lines[:7], lines[8], lines[7], *lines[9:]],
    }
    for name, content in tampered.items():
        copy = tmp_path / f"{name}.jsonl"
        copy.write_bytes(b"".join(content))
        result = stack.qm("audit", "verify", "--file", str(copy), "--grace", "0", check=False)
        assert result.returncode == 1, f"{name}: {result.stdout}{result.stderr}"
        assert "error:" in result.stderr, name
