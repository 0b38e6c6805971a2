"""Building and verifying the hash-chained audit trail (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas.audit import GENESIS, AuditKind, AuditRecorded
from schemas.envelope import content_id


@dataclass
class ChainHead:
    """Where the next entry attaches."""

    seq: int = 0
    last_hash: str = GENESIS


def append(
    head: ChainHead, kind: AuditKind, plan_id: str, now: datetime, **fields: str | None
) -> AuditRecorded:
    """Make the next entry of the chain and advance the head."""
    draft = AuditRecorded(
        message_id=content_id("audit", head.seq, head.last_hash),
        occurred_at=now,
        seq=head.seq,
        prev_hash=head.last_hash,
        entry_hash=GENESIS,
        kind=kind,
        plan_id=plan_id,
        **{k: v for k, v in fields.items() if v is not None},
    )
    entry = draft.model_copy(update={"entry_hash": draft.computed_hash()})
    head.seq += 1
    head.last_hash = entry.entry_hash
    return entry


def first_broken_link(entries: Sequence[AuditRecorded]) -> str | None:
    """None when the chain is intact; otherwise a sentence naming the first broken link."""
    expected_prev = GENESIS
    for position, entry in enumerate(entries):
        if entry.seq != position:
            return f"entry {position} has seq {entry.seq}: an entry was removed or reordered"
        if entry.prev_hash != expected_prev:
            return f"entry {position} does not point at entry {position - 1}: chain broken"
        if entry.computed_hash() != entry.entry_hash:
            return f"entry {position} was modified: its content does not match its hash"
        expected_prev = entry.entry_hash
    return None


@dataclass(frozen=True)
class Witnesses:
    """What other topics say the trail must contain: judged decisions and releases."""

    decision_sources: frozenset[str]  # topic/partition/offset of decisions old enough to be judged
    released_plans: frozenset[str]


def first_missing_entry(entries: Sequence[AuditRecorded], witnesses: Witnesses) -> str | None:
    """None when every witnessed decision and release has its entry; else the first one missing.

    The chain alone cannot show that entries were cut from its end; the decision and release
    topics can, because the gate appends one entry for every decision it reads and every plan
    it releases.
    """
    sources = {entry.source for entry in entries}
    released = {entry.plan_id for entry in entries if entry.kind == "plan_released"}
    for source in sorted(witnesses.decision_sources - sources, key=_source_order):
        return (
            f"the decision at {source} has no audit entry: an entry was removed, or the gate "
            "has not judged it yet (is the gate running?)"
        )
    for plan_id in sorted(witnesses.released_plans - released):
        return f"plan {plan_id} was released but the trail has no release entry for it"
    return None


def _source_order(source: str) -> tuple[str, int, int]:
    topic, partition, offset = source.rsplit("/", 2)
    return topic, int(partition), int(offset)
