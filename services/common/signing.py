"""Ed25519 operator keys, decision signatures and the trust store of operator public keys."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.envelope import canonical_json
from schemas.orders import OrderReviewed, Submitter
from schemas.plans import Approval, PlanDecided, PlanReleased


class SigningKeyError(RuntimeError):
    """A key that cannot be created, read or used, with what to do next."""


def normal_id(text: str) -> str:
    """An identity as compared: NFKC, case-folded, every dash a hyphen, format characters and
    surrounding space removed, so "Duty‐Officer" (U+2010), "DUTY-OFFICER" and "duty-officer"
    are one person to every check."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = (
        "-" if unicodedata.category(c) == "Pd" else c
        for c in folded
        if unicodedata.category(c) != "Cf"
    )
    return " ".join("".join(kept).split())


class TrustedKey(BaseModel):
    """One operator public key the gate accepts, with its roles and validity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operator_id: str
    name: str = ""
    roles: tuple[str, ...] = Field(min_length=1)
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    key_id: str
    not_after: AwareDatetime | None = None


class TrustStore(BaseModel):
    """Operator public keys keyed by key id."""

    model_config = ConfigDict(extra="forbid")

    keys: dict[str, TrustedKey] = Field(default_factory=dict)
    admin_key_id: str = Field(default="", description="the administrator key that signed it")
    signature: str = Field(default="", description="base64 Ed25519 signature of the keys")

    def signed_payload(self) -> dict[str, Any]:
        """What the administrator signs: every trusted key with its roles and validity."""
        keys = {key_id: key.model_dump(mode="json") for key_id, key in self.keys.items()}
        return {"type": "qm.trust-store.v1", "admin_key_id": self.admin_key_id, "keys": keys}

    def sign(self, admin: Ed25519PrivateKey) -> None:
        """Sign the store with the administrator key (after every change)."""
        self.admin_key_id = key_id_of(admin.public_key())
        self.signature = base64.b64encode(
            admin.sign(canonical_json(self.signed_payload()))
        ).decode()

    def verified_by(self, admin: Ed25519PublicKey) -> bool:
        """True when the administrator's signature covers exactly these keys."""
        if not self.signature or self.admin_key_id != key_id_of(admin):
            return False
        try:
            admin.verify(
                base64.b64decode(self.signature, validate=True),
                canonical_json(self.signed_payload()),
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    @classmethod
    def load(cls, path: Path) -> TrustStore:
        """Read the store strictly; a missing file is an empty store.

        A JSON object with a key given twice is refused: a reviewer reading the file would see
        one value and the signature could cover the other.
        """
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_bytes(), object_pairs_hook=_no_duplicate_keys)
        except ValueError as err:
            raise UntrustedStoreError(f"{path} is not a valid trust store: {err}") from err
        return cls.model_validate(raw)

    def problems(self) -> list[str]:
        """Why this store cannot be trusted as a list of people and their keys (empty if sound):
        each entry is filed under its key's fingerprint, a public key is listed once, a person
        (by name) has one operator id, operator ids stay distinct once normalised, and every
        approver is named."""
        found: list[str] = []
        owner_of_key: dict[str, str] = {}
        id_of_person: dict[str, str] = {}
        exact_of: dict[str, str] = {}
        for key_id, key in sorted(self.keys.items()):
            fingerprint = _fingerprint(key.public_key)
            if key_id != key.key_id or fingerprint != key_id:
                found.append(f"{key_id} is filed under a key id that is not its key's fingerprint")
            earlier = owner_of_key.setdefault(key.public_key, key_id)
            if earlier != key_id:
                found.append(f"{key_id} repeats the public key of {earlier}")
            exact = exact_of.setdefault(normal_id(key.operator_id), key.operator_id)
            if exact != key.operator_id:
                found.append(f"operator ids {exact!r} and {key.operator_id!r} are the same id")
            if "approver" in key.roles and not key.name.strip():
                found.append(f"approver {key.operator_id} has no name: quorum counts persons")
            if key.name.strip():
                held = id_of_person.setdefault(normal_id(key.name), key.operator_id)
                if held != key.operator_id:
                    found.append(f"{key.name!r} is listed as both {held} and {key.operator_id}")
        return found

    def save(self, path: Path) -> None:
        """Write the store atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)

    def add(self, key: TrustedKey) -> None:
        """Trust a key (replacing an earlier entry with the same id)."""
        self.keys[key.key_id] = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise ValueError(f"key {name!r} appears twice in one object")
        out[name] = value
    return out


def _fingerprint(public_b64_text: str) -> str:
    try:
        return key_id_of(decode_public(public_b64_text))
    except ValueError:
        return "not-a-key"


def public_raw(key: Ed25519PublicKey) -> bytes:
    """The raw 32 bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    """A short fingerprint of a public key."""
    return "ed25519:" + hashlib.sha256(public_raw(key)).hexdigest()[:16]


def generate(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Create a private key file readable only by its owner; refuse to overwrite one."""
    if path.exists():
        raise SigningKeyError(
            f"{path} already exists; use it, or remove it first to make a new key"
        )
    key = Ed25519PrivateKey.generate()
    algorithm: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, algorithm
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def load_private(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Read an operator's private key file."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except FileNotFoundError as err:
        raise SigningKeyError(f"no key at {path}; create one with `qm keys create`") from err
    except (TypeError, ValueError) as err:
        raise SigningKeyError(f"cannot read key {path}: wrong passphrase or not a PEM key") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key")
    return key


def decode_public(b64: str) -> Ed25519PublicKey:
    """A public key from its base64 raw form."""
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))


Signable = TypeVar("Signable", PlanDecided, OrderReviewed, Submitter)


def _sign(message: Signable, key: Ed25519PrivateKey) -> Signable:
    """The message with key id and signature over its canonical signed payload."""
    stamped = message.model_copy(update={"key_id": key_id_of(key.public_key())})
    signature = key.sign(canonical_json(stamped.signed_payload()))
    return stamped.model_copy(update={"signature": base64.b64encode(signature).decode()})


def sign_decision(decision: PlanDecided, key: Ed25519PrivateKey) -> PlanDecided:
    """Return the decision with key id and signature over its canonical signed payload."""
    return _sign(decision, key)


def sign_review(review: OrderReviewed, key: Ed25519PrivateKey) -> OrderReviewed:
    """Return the safety review with key id and signature over its canonical signed payload."""
    return _sign(review, key)


def sign_submission(submitter: Submitter, key: Ed25519PrivateKey) -> Submitter:
    """Return the submitter's claim with key id and signature: this person sent this order."""
    return _sign(submitter, key)


class Signed(Protocol):
    """A person's signed message: who, in what role, with which key, over what payload."""

    @property
    def operator_id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def key_id(self) -> str: ...
    @property
    def signature(self) -> str: ...
    def signed_payload(self) -> dict[str, Any]: ...


def check_signer(
    message: Signed, trust: TrustStore, now: datetime, what: str
) -> tuple[str, str] | None:
    """(reason code, detail) unless a trusted, unexpired key of this operator signed it for a
    role the key holds; the order of the checks is the order a reason is reported in."""
    if not message.signature:
        return "unsigned", f"{what} carries no signature"
    key = trust.keys.get(message.key_id)
    if key is None:
        return "unknown_key", f"key {message.key_id or '-'} is not in the trust store"
    if key.operator_id != message.operator_id:
        return "key_operator_mismatch", f"key belongs to {key.operator_id}"
    if key.not_after is not None and key.not_after < now:
        return "key_expired", f"key expired at {key.not_after.isoformat()}"
    if not verify_payload(message.signed_payload(), message.signature, key):
        return "bad_signature", f"signature does not verify for this {what}"
    if message.role not in key.roles:
        return "role_not_permitted", f"key is not trusted for role {message.role}"
    return None


# Who may report a vehicle's state or a closed area: the planner, the gate and `qm fleet|zones`
# take reports only from keys trusted for these roles.
REPORTING_ROLES = ("approver", "admin")


def check_reporter(message: Signed, trust: TrustStore, now: datetime) -> tuple[str, str] | None:
    """(reason code, detail) unless a trusted key of an approver or admin signed the report."""
    found = check_signer(message, trust, now, "report")
    if found is None and message.role not in REPORTING_ROLES:
        found = "role_not_permitted", f"{message.role} may not report vehicles or areas"
    return found


def verify_decision(decision: PlanDecided, key: TrustedKey) -> bool:
    """True when the decision's signature verifies against this trusted key."""
    return verify_payload(decision.signed_payload(), decision.signature, key)


def verify_approval(release: PlanReleased, approval: Approval, key: TrustedKey) -> bool:
    """True when an approval carried by a release verifies for that exact plan: the hash is
    recomputed from the plan the release carries, so an edited release never verifies."""
    payload = approval.signed_payload(release.plan_id, release.plan_hash)
    return (
        release.plan.plan_hash == release.plan_hash
        and release.plan.computed_hash() == release.plan_hash
        and verify_payload(payload, approval.signature, key)
    )


def verify_payload(payload: dict[str, Any], signature_b64: str, key: TrustedKey) -> bool:
    """Check a base64 Ed25519 signature over the canonical JSON of a payload."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        decode_public(key.public_key).verify(signature, canonical_json(payload))
    except (InvalidSignature, ValueError):
        return False
    return True


def trusted_key_for(
    key: Ed25519PrivateKey,
    operator_id: str,
    name: str,
    roles: tuple[str, ...],
    not_after: datetime | None = None,
) -> TrustedKey:
    """The trust-store entry for an operator's key."""
    public = key.public_key()
    return TrustedKey(
        operator_id=operator_id,
        name=name,
        roles=roles,
        public_key=base64.b64encode(public_raw(public)).decode(),
        key_id=key_id_of(public),
        not_after=not_after,
    )


def store_changes(before: TrustStore, after: TrustStore) -> list[str]:
    """What signing `after` would change compared with `before`, one line per key, for the
    administrator to read before signing."""
    lines = []
    for key_id in sorted(set(before.keys) | set(after.keys)):
        old, new = before.keys.get(key_id), after.keys.get(key_id)
        if old == new:
            continue
        if new is None:
            assert old is not None
            lines.append(f"- remove {key_id} ({old.operator_id}, {', '.join(old.roles)})")
        elif old is None:
            lines.append(
                f"+ add {key_id} for {new.operator_id} ({new.name or 'no name'}) with roles "
                f"{', '.join(new.roles)}, valid until {new.not_after or 'revoked'}"
            )
        else:
            fields = sorted(k for k, v in new.model_dump().items() if old.model_dump()[k] != v)
            lines.append(f"~ change {key_id} ({new.operator_id}): {', '.join(fields)}")
    return lines


def describe(store: TrustStore) -> str:
    """A JSON summary of the store for humans."""
    return json.dumps({k: v.operator_id for k, v in store.keys.items()}, indent=2)


class UntrustedStoreError(RuntimeError):
    """The trust store is missing its administrator's valid signature."""


def writable_reason(path: Path) -> str | None:
    """Why a trust anchor could be rewritten by whoever runs beside it, or None.

    The anchor must sit on a read-only mount, or be a file without any write bit in a directory
    without any write bit (what `qm keys admin-init` creates). On one machine the owner can
    still chmod it back, which is a deliberate act; in a deployment it is a read-only mount.
    """
    target = path.resolve()
    for where in (target, target.parent):
        if os.statvfs(where).f_flag & os.ST_RDONLY:
            return None
        if where.stat().st_mode & 0o222:
            kind = "file" if where == target else "directory"
            return f"the anchor {kind} {where} is writable (mode {where.stat().st_mode & 0o777:o})"
    return None


def load_admin_public(path: Path) -> Ed25519PublicKey:
    """The administrator's public key (base64 raw) that the gate pins, from a read-only place."""
    try:
        problem = writable_reason(path)
        if problem is not None:
            raise UntrustedStoreError(
                f"{problem}; mount it read-only or run `chmod a-w` on it and its directory"
            )
        return decode_public(path.read_text().strip())
    except FileNotFoundError as err:
        raise UntrustedStoreError(
            f"no administrator public key at {path}; create one with `qm keys admin-init`"
        ) from err
    except ValueError as err:
        raise UntrustedStoreError(f"{path} is not a base64 Ed25519 public key") from err


def load_verified_store(store_path: Path, admin_path: Path) -> TrustStore:
    """Load the trust store and check the administrator's signature, or raise."""
    store = TrustStore.load(store_path)
    if not store.verified_by(load_admin_public(admin_path)):
        raise UntrustedStoreError(
            f"{store_path} is not signed by the pinned administrator key; re-sign it with "
            "`qm keys sign-store`"
        )
    problems = store.problems()
    if problems:
        raise UntrustedStoreError(f"{store_path} is signed but unsound: {'; '.join(problems)}")
    return store


def public_b64(key: Ed25519PublicKey) -> str:
    """Base64 of a public key's raw bytes."""
    return base64.b64encode(public_raw(key)).decode()
