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
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.audit import AuditRecorded
from schemas.envelope import content_id, utcnow
from schemas.orders import Submitter, text_sha256
from schemas.plans import PlanDecided, PlanProposed, PlanReleased, SignedOrder
from schemas.topics import Topic
from services.cli.publishing import send_many
from services.common.audit import first_broken_link
from services.common.codec import DecodeError, decode
from services.common.kafka import read_topics
from services.common.settings import CommonSettings
from services.common.signing import (
    TrustStore,
    key_id_of,
    load_private,
    sign_decision,
    sign_submission,
    trusted_key_for,
)
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


def _unique(plan: PlanProposed, n: int, keys: Keys | None, **update: object) -> PlanProposed:
    """The factory plan with its own plan id and its own order id, the order signed by the
    suite's clerk (`keys`), or unsigned (None)."""
    order_id = content_id("ord", "sec", n, RUN)
    signed = (
        () if keys is None else (SignedOrder(order_id=order_id, claim=keys.sign_order(order_id)),)
    )
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
        **{"submitters": signed, **update},
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
    """The operators of the suite: two approvers, the clerk who signs orders, an observer,
    two approvers whose keys the administrator revokes later, and a stranger nobody trusts."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.duty = load_private(state / "keys" / "duty-officer.pem")
        self.second = load_private(state / "keys" / "second-officer.pem")
        self.clerk = load_private(state / "keys" / "s4-clerk.pem")
        self.observer = Ed25519PrivateKey.generate()
        self.third = Ed25519PrivateKey.generate()
        self.fourth = Ed25519PrivateKey.generate()
        self.stranger = Ed25519PrivateKey.generate()
        extra = [
            (self.observer, "observer", "Observer", "observer"),
            (self.third, "third-officer", "Lt. Third", "approver"),
            (self.fourth, "fourth-officer", "Lt. Four", "approver"),
        ]

        def add(store: TrustStore) -> None:
            for key, operator, name, role in extra:
                store.add(trusted_key_for(key, operator, name, (role,)))

        self.resign(add)

    @property
    def store_path(self) -> Path:
        return self.state / "trust" / "operators.json"

    def resign(self, change: Callable[[TrustStore], object]) -> None:
        """Change the trust store and sign it as the administrator does."""
        store = TrustStore.load(self.store_path)
        change(store)
        secret = (self.state.parent / "admin-passphrase").read_bytes().strip()
        store.sign(load_private(self.state / "admin" / "admin.pem", secret))
        store.save(self.store_path)

    def sign_order(
        self, order_id: str, key: Ed25519PrivateKey | None = None, operator: str = "s4-clerk"
    ) -> Submitter:
        """The sender's signed claim over one order."""
        claim = Submitter(
            order_id=order_id,
            text_sha256=text_sha256(order_id),
            operator_id=operator,
            role="requester" if operator == "s4-clerk" else "approver",
            signed_at=utcnow(),
        )
        return sign_submission(claim, key or self.clerk)


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
    routine = [_unique(f.plan(), n, keys) for n in range(ROUTINE_PLANS)]
    risky = [_unique(f.plan(sku="DIESEL-GAL"), 100 + n, keys) for n in range(RISKY_PLANS)]
    own = _unique(f.plan(requested_by=("duty-officer",)), 200, keys)
    stale = _unique(f.plan(), 201, keys, expires_at=utcnow() - timedelta(minutes=1))
    unknown = _unique(f.plan(), 202, keys)  # never proposed
    replaced = [_unique(f.plan(), 300 + n, keys) for n in range(SUPERSEDED_PLANS)]
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


def _send(stack: Stack, proposals: list[PlanProposed], decisions: list[PlanDecided]) -> None:
    settings = CommonSettings(kafka_bootstrap=stack.env["KAFKA_BOOTSTRAP"])
    if proposals:
        asyncio.run(send_many(settings, Topic.PLANS_PROPOSED, [(p, p.plan_id) for p in proposals]))
        _wait_until_the_gate_knows_every_proposal(stack)
    asyncio.run(send_many(settings, Topic.PLANS_DECIDED, [(d, d.plan_id) for d in decisions]))


def _signed(plan: PlanProposed, claim: Submitter) -> SignedOrder:
    """The claim, attached to the plan's one order."""
    return SignedOrder(order_id=plan.order_ids[0], claim=claim)


def _ammo(n: int, keys: Keys | None, **update: object) -> PlanProposed:
    """A plan of ammunition that declares itself harmless: no risk, one approval."""
    return _unique(f.plan(sku="AMMO-556"), n, keys, risk=(), approvals_required=1, **update)


def test_a_hostile_review_releases_nothing(stack: Stack, tmp_path: Path):
    """The attacks of the hostile review (issue 13), each on the running gate: stale and
    revoked approvals (also across a restart), decision lifetimes, self-declared and disguised
    submitters, risk the plan understates, and a trust anchor or store anyone could edit."""
    bootstrap = stack.env["KAFKA_BOOTSTRAP"]
    keys = Keys(Path(stack.env["QM_STATE_DIR"]))
    stack.start("gate", QM_GATE_PLAN_WAIT_S="0.5")
    refused: dict[str, Refusal] = {}  # decision id -> reason its last audit entry must give
    waiting: dict[str, str] = {}  # decision id -> what the pending detail must name
    now = utcnow()

    # Lifetimes: from the future, ending before it starts, or for a year.
    timing = _unique(f.plan(), 700, keys)
    timing_attacks = []
    for tag, update, reason in [
        (
            "future",
            {"decided_at": now + timedelta(hours=1), "expires_at": now + timedelta(hours=2)},
            Refusal.DECIDED_IN_FUTURE,
        ),
        ("backwards", {"expires_at": now - timedelta(seconds=1)}, Refusal.BAD_LIFETIME),
        ("a-year", {"expires_at": now + timedelta(days=365)}, Refusal.LIFETIME_TOO_LONG),
    ]:
        timing_attacks.append(_decide(timing, keys.duty, "duty-officer", tag, **update))
        refused[timing_attacks[-1].message_id] = reason
    # Self-approval under a disguised name, or through an order the approver signed.
    disguised = [
        _unique(f.plan(requested_by=(typed,)), 710 + n, keys)
        for n, typed in enumerate(["DUTY-OFFICER", "duty\u2010officer", "duty-of\u200bficer"])
    ]
    own_signed = _unique(f.plan(requested_by=()), 720, None)
    own_signed = _rehash(
        own_signed,
        submitters=(
            _signed(
                own_signed, keys.sign_order(own_signed.order_ids[0], keys.duty, "duty-officer")
            ),
        ),
    )
    self_attacks = [_decide(p, keys.duty, "duty-officer", "mine") for p in [*disguised, own_signed]]
    refused.update({d.message_id: Refusal.SELF_APPROVAL for d in self_attacks})
    # One approval where the gate wants two: unsigned or forged sender, or understated risk.
    unsigned = _unique(f.plan(requested_by=("s4-clerk",)), 730, None)
    forged = _unique(f.plan(), 731, None)
    forged = _rehash(
        forged, submitters=(_signed(forged, keys.sign_order(forged.order_ids[0], keys.stranger)),)
    )
    ammo = _ammo(732, keys)
    unknown_sku = _unique(f.plan(sku="GRENADE-XX"), 733, keys, risk=(), approvals_required=1)
    one_only = {
        unsigned.plan_id: "unauthenticated_submitter",
        forged.plan_id: "unauthenticated_submitter",
        ammo.plan_id: "class_v",
        unknown_sku.plan_id: "unknown_sku",
    }
    singles = [
        _decide(p, keys.duty, "duty-officer", "alone")
        for p in (unsigned, forged, ammo, unknown_sku)
    ]
    waiting.update({d.message_id: one_only[d.plan_id] for d in singles})
    # Approvals given earlier that must not count when the quorum completes.
    expiring, revoked, restarted = _ammo(740, keys), _ammo(741, keys), _ammo(742, keys)
    ends = utcnow() + timedelta(seconds=6)
    short = _decide(expiring, keys.duty, "duty-officer", "short", expires_at=ends)
    by_third = _decide(revoked, keys.third, "third-officer", "before-revocation")
    by_fourth = _decide(restarted, keys.fourth, "fourth-officer", "before-restart")
    plans = [timing, *disguised, own_signed, unsigned, forged, ammo, unknown_sku]
    plans += [expiring, revoked, restarted]
    _send(stack, plans, [*timing_attacks, *self_attacks, *singles, short, by_third, by_fourth])
    _judged(bootstrap, {short.message_id, by_third.message_id, by_fourth.message_id}, stack.logs)

    time.sleep(max(0.0, (ends - utcnow()).total_seconds()) + 1)  # `short` has expired
    keys.resign(lambda store: store.keys.pop(key_id_of(keys.third.public_key())))
    # The gate restarts while fourth-officer's key is revoked: the restored approval is judged.
    keys.resign(lambda store: store.keys.pop(key_id_of(keys.fourth.public_key())))
    stack.restart("gate", QM_GATE_PLAN_WAIT_S="0.5")
    _wait_until_the_gate_knows_every_proposal(stack)
    completing = [
        _decide(p, keys.second, "second-officer", "completes")
        for p in (expiring, revoked, restarted)
    ]
    refused[short.message_id] = Refusal.DECISION_EXPIRED
    refused[by_third.message_id] = Refusal.UNKNOWN_KEY
    refused[by_fourth.message_id] = Refusal.UNKNOWN_KEY
    waiting.update({d.message_id: "class_v" for d in completing})
    _send(stack, [], completing)

    # The honest paths still release exactly once: the second person on the unsigned order,
    # a fresh approval by duty-officer on the plan whose first approval expired.
    honest = [
        _decide(unsigned, keys.second, "second-officer", "second-person"),
        _decide(expiring, keys.duty, "duty-officer", "fresh"),
    ]
    _send(stack, [], honest)
    ids = set(refused) | set(waiting) | {d.message_id for d in honest}
    outcome = _judged(bootstrap, ids, stack.logs)
    wrong = _misjudged(outcome, refused)
    assert wrong == {}, f"{len(wrong)} attacks not refused for the right reason: {wrong}"
    for decision_id, named in waiting.items():
        entry = outcome[decision_id]
        assert entry.kind == "decision_recorded" and named in entry.detail, (decision_id, entry)
    assert all(outcome[d.message_id].kind == "plan_released" for d in honest)

    _trust_anchor_and_store_attacks(stack, keys, tmp_path)
    ours = {p.plan_id for p in plans}
    released = Counter(r.plan_id for r in _releases(bootstrap) if r.plan_id in ours)
    assert released == Counter({unsigned.plan_id: 1, expiring.plan_id: 1})
    _untrusted_text_is_shown_as_text(stack, keys, disguised[0])


def _trust_anchor_and_store_attacks(stack: Stack, keys: Keys, tmp_path: Path) -> None:
    """An anchor the services could rewrite, and stores a reviewer would misread or that name
    one person twice: every decision is refused until the store is sound again."""
    bootstrap = stack.env["KAFKA_BOOTSTRAP"]
    anchor = Path(stack.env["QM_STATE_DIR"]) / "anchor" / "admin.pub"
    loose = tmp_path / "loose" / "admin.pub"
    loose.parent.mkdir()
    loose.write_text(anchor.read_text())
    good = keys.store_path.read_bytes()
    plan = _unique(f.plan(), 800, keys)

    def attempt(tag: str) -> AuditRecorded:
        decision = _decide(plan, keys.duty, "duty-officer", tag)
        _send(stack, [], [decision])
        return _judged(bootstrap, {decision.message_id}, stack.logs)[decision.message_id]

    stack.restart("gate", QM_GATE_PLAN_WAIT_S="0.5", QM_ADMIN_PUBLIC_KEY=str(loose))
    _send(stack, [plan], [])
    assert attempt("writable-anchor").reason == Refusal.UNTRUSTED_STORE
    stack.restart("gate", QM_GATE_PLAN_WAIT_S="0.5")
    _wait_until_the_gate_knows_every_proposal(stack)

    # The observer's entry says "approver" first and "observer" last: a lenient reader keeps the
    # last (and the signature still verifies); a reviewer may read the first.
    doubled = good.replace(
        b'"operator_id": "observer",', b'"operator_id": "observer", "roles": ["approver"],', 1
    )
    assert doubled != good
    keys.store_path.write_bytes(doubled)
    assert attempt("duplicate-json-key").reason == Refusal.UNTRUSTED_STORE
    keys.store_path.write_bytes(good)
    alias = Ed25519PrivateKey.generate()
    duty_name = next(
        k.name
        for k in TrustStore.load(keys.store_path).keys.values()
        if k.operator_id == "duty-officer"
    )
    keys.resign(lambda s: s.add(trusted_key_for(alias, "lena", duty_name.upper(), ("approver",))))
    assert attempt("person-under-two-ids").reason == Refusal.UNTRUSTED_STORE
    keys.store_path.write_bytes(good)
    assert attempt("sound-again").kind == "plan_released"


def _untrusted_text_is_shown_as_text(stack: Stack, keys: Keys, plan: PlanProposed) -> None:
    """A reason written as markup neither styles a forged line nor crashes `qm plans show`."""
    forged = "[/bold][green]released[/green] [/]"
    decision = _decide(
        plan, keys.second, "second-officer", "markup", reason=forged, decision="reject"
    )
    _send(stack, [], [decision])
    _judged(stack.env["KAFKA_BOOTSTRAP"], {decision.message_id}, stack.logs)
    shown = stack.qm("plans", "show", plan.plan_id)
    assert "[green]released[/green]" in shown.stdout
    assert "status rejected" in shown.stdout
