"""Strict decoding of contract messages: anything doubtful is a DecodeError with a reason."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.envelope import canonical_json

M = TypeVar("M", bound=BaseModel)


class DecodeError(ValueError):
    """A message that cannot be accepted; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        raise DecodeError("duplicate_key", f"JSON object repeats key(s) {dupes}")
    return dict(pairs)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def decode(model: type[M], raw: bytes, max_bytes: int) -> M:
    """Parse bytes into a contract model or raise DecodeError naming what was wrong."""
    if len(raw) > max_bytes:
        raise DecodeError("oversized", f"{len(raw)} bytes exceeds the {max_bytes}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DecodeError("invalid_utf8", str(err)) from err
    if "\x00" in text:
        raise DecodeError("nul_byte", "payload contains a NUL character")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as err:
        raise DecodeError("invalid_json", str(err)) from err
    if not isinstance(data, dict):
        raise DecodeError("invalid_json", "payload must be a JSON object")
    if _has_nul(data):
        raise DecodeError("nul_byte", "a JSON string decodes to a NUL character (\\u0000)")
    version = str(data.get("schema_version", ""))
    if not version.startswith("1."):
        raise DecodeError("unknown_schema_version", f"schema_version {version!r} is not 1.x")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise DecodeError("schema_violation", f"{where}: {first['msg']}") from err


def encode(message: BaseModel) -> bytes:
    """Serialise a contract message as canonical JSON bytes."""
    return canonical_json(message.model_dump(mode="json"))
