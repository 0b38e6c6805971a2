"""Operator keys: signatures bind the exact decision; key files are private."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.signing import (
    SigningKeyError,
    TrustedKey,
    TrustStore,
    UntrustedStoreError,
    generate,
    load_admin_public,
    load_private,
    normal_id,
    public_b64,
    store_changes,
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


def test_identities_compare_after_normalisation():
    same = [
        "duty-officer",
        "DUTY-OFFICER",
        "duty\u2010officer",
        "duty\u2011officer",
        " duty-of\u200bficer",
    ]
    assert {normal_id(s) for s in same} == {"duty-officer"}
    assert normal_id("second-officer") != normal_id("duty-officer")


def _entry(key: Ed25519PrivateKey, operator: str, name: str) -> TrustedKey:
    return trusted_key_for(key, operator, name, ("approver",))


def test_a_store_that_lists_a_person_or_a_key_twice_is_unsound():
    a, b = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    sound = TrustStore()
    sound.add(_entry(a, "duty-officer", "Lena Ortiz"))
    sound.add(_entry(b, "second-officer", "Idris Varga"))
    assert sound.problems() == []
    cases = {
        "fingerprint": {"ed25519:0000000000000000": _entry(a, "duty-officer", "Lena Ortiz")},
        "same key twice": {
            "x": _entry(a, "duty-officer", "Lena Ortiz"),
            "y": _entry(a, "duty-officer", "Lena Ortiz").model_copy(update={"key_id": "y"}),
        },
        "person under two ids": {
            _entry(a, "duty-officer", "Lena Ortiz").key_id: _entry(a, "duty-officer", "Lena Ortiz"),
            _entry(b, "lena", "LENA  ORTIZ").key_id: _entry(b, "lena", "LENA  ORTIZ"),
        },
        "ids that normalise alike": {
            _entry(a, "duty-officer", "A").key_id: _entry(a, "duty-officer", "A"),
            _entry(b, "Duty-Officer", "B").key_id: _entry(b, "Duty-Officer", "B"),
        },
        "nameless approver": {_entry(a, "duty-officer", "").key_id: _entry(a, "duty-officer", "")},
    }
    for name, keys in cases.items():
        assert TrustStore(keys=keys).problems(), name


def test_a_store_with_a_key_given_twice_in_one_object_is_refused(tmp_path):
    store = TrustStore()
    store.add(_entry(Ed25519PrivateKey.generate(), "observer", "Liaison"))
    text = store.model_dump_json()
    doubled = text.replace('"roles":["approver"]', '"roles":["observer"],"roles":["approver"]')
    assert doubled != text
    (tmp_path / "s.json").write_text(doubled)
    with pytest.raises(UntrustedStoreError):
        TrustStore.load(tmp_path / "s.json")


def test_the_anchor_must_not_be_writable(tmp_path):
    admin = Ed25519PrivateKey.generate()
    anchor = tmp_path / "anchor" / "admin.pub"
    anchor.parent.mkdir()
    anchor.write_text(public_b64(admin.public_key()))
    with pytest.raises(UntrustedStoreError, match="writable"):
        load_admin_public(anchor)
    os.chmod(anchor, 0o444)
    with pytest.raises(UntrustedStoreError, match="directory"):
        load_admin_public(anchor)  # the file could be replaced through its directory
    os.chmod(anchor.parent, 0o555)  # noqa: S103 - read-only for everyone is the point
    assert load_admin_public(anchor) == admin.public_key()
    os.chmod(anchor.parent, 0o700)


def test_the_administrator_sees_every_change_before_signing():
    a, b = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    before = TrustStore()
    before.add(_entry(a, "duty-officer", "Lena Ortiz"))
    after = TrustStore(keys=dict(before.keys))
    after.add(_entry(b, "second-officer", "Idris Varga"))
    key_a = _entry(a, "duty-officer", "Lena Ortiz").key_id
    after.keys[key_a] = after.keys[key_a].model_copy(update={"roles": ("approver", "admin")})
    lines = store_changes(before, after)
    assert len(lines) == 2
    assert any(line.startswith("+ add") and "second-officer" in line for line in lines)
    assert any(line.startswith("~ change") and "roles" in line for line in lines)
    assert store_changes(after, before)[0][0] in "-~"
