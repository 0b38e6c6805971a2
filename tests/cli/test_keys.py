"""`qm keys`: the administrator key is encrypted, changes wait for a reviewed signature, and
the anchor the gate pins is read-only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.common.settings import CommonSettings
from services.common.signing import (
    SigningKeyError,
    TrustStore,
    load_private,
    load_verified_store,
)

runner = CliRunner()


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QM_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "secret").write_text("a long enough passphrase")
    return tmp_path / "state"


def _qm(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.output


def _init(state: Path) -> CommonSettings:
    code, out = _qm("keys", "admin-init", "--passphrase-file", str(state.parent / "secret"))
    assert code == 0, out
    return CommonSettings()


def test_the_administrator_key_is_encrypted_and_the_anchor_read_only(state: Path):
    common = _init(state)
    with pytest.raises(SigningKeyError):
        load_private(common.admin_private_key)  # no passphrase: unreadable
    assert load_private(common.admin_private_key, b"a long enough passphrase")
    assert stat.S_IMODE(common.admin_public_key.stat().st_mode) == 0o444
    assert stat.S_IMODE(common.admin_public_key.parent.stat().st_mode) == 0o555
    code, out = _qm("keys", "admin-init", "--passphrase-file", str(state.parent / "secret"))
    assert code != 0 and "already exists" in out


def test_a_new_key_is_trusted_only_once_the_administrator_signs_what_changed(state: Path):
    common = _init(state)
    code, out = _qm("keys", "create", "--operator", "duty-officer")
    assert code == 0, out
    assert load_verified_store(common.trust_store, common.admin_public_key).keys == {}
    code, out = _qm("keys", "list")
    assert "pending: + add" in out and "duty-officer" in out
    secret = str(state.parent / "secret")
    code, out = _qm("keys", "sign-store", "--passphrase-file", secret, input="n\n")
    assert code != 0 and "+ add" in out and "nothing signed" in out
    assert load_verified_store(common.trust_store, common.admin_public_key).keys == {}
    code, out = _qm("keys", "sign-store", "--passphrase-file", secret, input="y\n")
    assert code == 0, out
    store = load_verified_store(common.trust_store, common.admin_public_key)
    assert [k.operator_id for k in store.keys.values()] == ["duty-officer"]
    assert not common.pending_trust_store.exists()
    (key_id,) = store.keys
    assert _qm("keys", "revoke", key_id)[0] == 0
    assert _qm("keys", "sign-store", "--yes", "--passphrase-file", secret)[0] == 0
    assert load_verified_store(common.trust_store, common.admin_public_key).keys == {}


def test_an_unsound_store_is_not_signed(state: Path):
    common = _init(state)
    _qm("keys", "create", "--operator", "duty-officer")
    pending = TrustStore.load(common.pending_trust_store)
    (entry,) = pending.keys.values()
    pending.keys["ed25519:0000000000000000"] = entry.model_copy(
        update={"key_id": "ed25519:0000000000000000", "operator_id": "lena"}
    )
    pending.save(common.pending_trust_store)
    code, out = _qm(
        "keys", "sign-store", "--yes", "--passphrase-file", str(state.parent / "secret")
    )
    assert code != 0 and "cannot be signed" in out
    assert load_verified_store(common.trust_store, common.admin_public_key).keys == {}
