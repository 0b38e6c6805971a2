"""The envelope every message carries, and content-derived ids."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


def canonical_json(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8, no NaN; the one form that is hashed."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(value: Any) -> str:
    """SHA-256 of the canonical JSON of a value."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def content_id(prefix: str, *parts: Any) -> str:
    """A stable id derived from content, so redelivery can never mint a second id."""
    return f"{prefix}-{sha256_hex(list(parts))[:20]}"


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Fields every message carries; subclasses add the business key and payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    SCHEMA_VERSION: ClassVar[str] = "1.0"

    message_id: str = Field(min_length=1, max_length=128)
    occurred_at: AwareDatetime
    schema_version: str = Field(default="1.0", pattern=r"^1\.\d+$")

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)
