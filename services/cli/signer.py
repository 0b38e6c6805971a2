"""A sender's signature over the orders they submit: what lets the gate know who asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.orders import Submitter, text_sha256
from services.cli.context import err_console, fail, key_path, settings
from services.common.signing import (
    SigningKeyError,
    TrustStore,
    key_id_of,
    load_private,
    sign_submission,
)


@dataclass(frozen=True)
class Sender:
    """An operator's key, and a role the trust store holds it for."""

    operator: str
    key: Ed25519PrivateKey
    role: str

    def sign(self, order_id: str, text: str, at: datetime) -> Submitter:
        """The signed claim "I sent this order, with these words"."""
        claim = Submitter(
            order_id=order_id,
            text_sha256=text_sha256(text),
            operator_id=self.operator,
            role=self.role,
            signed_at=at,
        )
        return sign_submission(claim, self.key)


def sender(operator: str | None, key: Path | None = None, required: bool = False) -> Sender | None:
    """The operator's trusted key, or None (after a warning on stderr) to send unsigned; with
    `required`, a missing key is an error instead."""
    common = settings()
    path = key or (key_path(common.state_dir, operator) if operator else None)
    if operator is None or path is None or not path.exists():
        hint = (
            f"no key for {operator} (`qm keys create --operator {operator}`)"
            if operator
            else ("no --as")
        )
        if required:
            fail(f"{hint}: this must be signed by its sender")
        err_console.print(  # stderr: --json output stays machine-readable
            f"[yellow]unsigned[/]: {hint}; a plan with an unsigned order needs two approvers",
            highlight=False,
        )
        return None
    try:
        private = load_private(path)
    except SigningKeyError as err:
        fail(str(err))
    entry = TrustStore.load(common.trust_store).keys.get(key_id_of(private.public_key()))
    if entry is None or entry.operator_id != operator:
        fail(f"the key at {path} is not trusted for {operator}; the administrator signs it in")
    return Sender(operator, private, entry.roles[0])


def submission_for(
    order_id: str, text: str, operator: str, at: datetime, required: bool = False
) -> Submitter | None:
    """The operator's signed claim over one order, or None when they have no key."""
    found = sender(operator, required=required)
    return found.sign(order_id, text, at) if found else None
