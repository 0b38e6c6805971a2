"""Operator keys: signatures bind the exact decision; key files are private."""

from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.signing import (
    SigningKeyError,
    TrustStore,
    generate,
    load_private,
    trusted_key_for,
    verify_decision,
)
from tests import factories as f


def test_key_files_are_owner_only_and_never_overwritten(tmp_path):
    path = tmp_path / "keys" / "duty-officer.pem"
    key = generate(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_private(path).public_key() == key.public_key()
    with pytest.raises(SigningKeyError):
        generate(path)


def test_passphrase_protected_keys_need_the_passphrase(tmp_path):
    path = tmp_path / "k.pem"
    generate(path, b"correct horse")
    assert load_private(path, b"correct horse") is not None
    with pytest.raises(SigningKeyError):
        load_private(path, b"wrong")


def test_a_signature_verifies_only_for_the_signed_content():
    key = Ed25519PrivateKey.generate()
    entry = trusted_key_for(key, "duty-officer", "Duty", ("approver",))
    signed = f.decision(f.plan(), key)
    assert verify_decision(signed, entry)
    assert not verify_decision(signed.model_copy(update={"reason": "other"}), entry)
    other = trusted_key_for(Ed25519PrivateKey.generate(), "duty-officer", "Duty", ("approver",))
    assert not verify_decision(signed, other.model_copy(update={"key_id": entry.key_id}))


def test_the_trust_store_round_trips(tmp_path):
    key = Ed25519PrivateKey.generate()
    store = TrustStore()
    store.add(trusted_key_for(key, "duty-officer", "Duty", ("approver",)))
    store.save(tmp_path / "trust.json")
    assert TrustStore.load(tmp_path / "trust.json") == store
    assert TrustStore.load(tmp_path / "missing.json").keys == {}


def test_the_trust_store_verifies_only_with_its_administrators_signature():
    admin, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    store = TrustStore()
    store.add(trusted_key_for(Ed25519PrivateKey.generate(), "duty-officer", "D", ("approver",)))
    assert not store.verified_by(admin.public_key())  # unsigned
    store.sign(admin)
    assert store.verified_by(admin.public_key())
    assert not store.verified_by(other.public_key())
    store.add(trusted_key_for(Ed25519PrivateKey.generate(), "intruder", "I", ("approver",)))
    assert not store.verified_by(admin.public_key())  # changed after signing
