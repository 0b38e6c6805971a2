"""Strict decoding of contract messages: anything doubtful is a DecodeError with a reason.

Contracts evolve by adding optional fields within a major version (1.0 → 1.1 → …), so an older
1.x payload usually validates as it is. When a change cannot be made that way (a field renamed
or reshaped), an *upcaster* registered for (contract, old schema_version) turns the old payload
dict into the next version's shape before validation; `decode` applies them in a chain until no
upcaster is registered for the version reached. A major version nobody upcasts from is still
refused as `unknown_schema_version`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.envelope import canonical_json

M = TypeVar("M", bound=BaseModel)

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
# (contract, schema_version it reads) → (schema_version it produces, function). The function gets
# a copy of the payload and returns the payload in the newer shape; `decode` sets the new
# schema_version itself. Keyed by the exact contract class: a subclass upcasts on its own.
UPCASTERS: dict[tuple[type[BaseModel], str], tuple[str, Upcaster]] = {}


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


def register_upcaster(
    model: type[BaseModel], from_version: str, to_version: str
) -> Callable[[Upcaster], Upcaster]:
    """Decorator: `fn` turns a `model` payload of `from_version` into one of `to_version`.

    Refused at registration: a second upcaster for the same (model, version), and one that would
    close a loop (a chain that leads back to `from_version` would never end).
    """

    def register(fn: Upcaster) -> Upcaster:
        if (model, from_version) in UPCASTERS:
            raise ValueError(f"{model.__name__} {from_version} already has an upcaster")
        step = to_version
        while step != from_version:
            following = UPCASTERS.get((model, step))
            if following is None:
                break
            step = following[0]
        else:
            raise ValueError(f"{model.__name__} {from_version} → {to_version} closes a loop")
        UPCASTERS[(model, from_version)] = (to_version, fn)
        return fn

    return register


def upcast(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """The payload lifted through every upcaster registered from its schema_version on."""
    version = data.get("schema_version")
    while isinstance(version, str) and (model, version) in UPCASTERS:
        target, fn = UPCASTERS[(model, version)]
        try:
            lifted = fn(dict(data))
        except DecodeError:
            raise  # the upcaster named the reason itself
        except (KeyError, TypeError, ValueError) as err:
            raise DecodeError(
                "schema_violation", f"cannot upcast {model.__name__} {version}: {err!r}"
            ) from err
        if not isinstance(lifted, dict):
            raise DecodeError(
                "schema_violation", f"upcaster of {model.__name__} {version} made no object"
            )
        data = {**lifted, "schema_version": target}
        version = target
    return data


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
    data = upcast(model, data)
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
