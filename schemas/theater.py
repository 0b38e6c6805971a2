"""What a theater's people report about it while plans run: signed, keyed by what they describe."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.envelope import Envelope

# What the signature of a report covers besides its own fields: nothing of the envelope.
_UNSIGNED = {"message_id", "occurred_at", "schema_version", "signature"}


class Position(BaseModel):
    """A point on the ground, WGS 84 degrees."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Reported(Envelope):
    """A person's signed report: who, in what role, with which key (qm fleet, qm zones)."""

    SIGNED_TYPE: ClassVar[str] = ""

    operator_id: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=2000)
    key_id: str = Field(default="", description="fingerprint of the signing public key")
    signature: str = Field(default="", description="base64 Ed25519 signature of signed_payload()")

    def signed_payload(self) -> dict[str, Any]:
        """The canonical content the signature covers: the report type and every field but the
        envelope and the signature itself."""
        return {"type": self.SIGNED_TYPE, **self.model_dump(mode="json", exclude=_UNSIGNED)}
