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
