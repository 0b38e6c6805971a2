"""The audit trail: every gate decision, refusal and release, hash-chained."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from schemas.envelope import Envelope, sha256_hex

GENESIS = "0" * 64
AuditKind = Literal["decision_refused", "decision_recorded", "plan_rejected", "plan_released"]


class AuditRecorded(Envelope):
    """One audit entry; `entry_hash` commits to its content and to the previous entry."""

    seq: int = Field(ge=0)
    prev_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    entry_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    kind: AuditKind
    plan_id: str
    decision_id: str | None = None
    operator_id: str | None = None
    key_id: str | None = None
    reason: str = Field(default="", description="refusal reason code, or the human's reason")
    detail: str = ""
    source: str = Field(default="", description="topic/partition/offset of the decision")

    def chained_content(self) -> dict[str, Any]:
        """Everything the entry hash covers: all fields but the hash itself."""
        return self.model_dump(mode="json", exclude={"entry_hash"})

    def computed_hash(self) -> str:
        """SHA-256 of the canonical JSON of the chained content."""
        return sha256_hex(self.chained_content())
