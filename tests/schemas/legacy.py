"""Payloads written by the contracts of v1.0, as they sit on Kafka (tests/schemas/payloads/v1.0).

The v1.0 models are not kept in the tree: `write_v1_0()` rebuilds them from git history
(`git archive` of the commit into a temporary directory) and runs payloads/write_v1_0.py
against them. `python -m tests.schemas.legacy` rewrites the stored files; the tests compare
a fresh write with them.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from services.common.settings import REPO_ROOT

PAYLOADS = Path(__file__).parent / "payloads"
V1_0 = PAYLOADS / "v1.0"
# The last commit before any v1.1 field: submitter, submitters, injected, evidence, decided_by,
# amends and the `review` outcome all came later.
V1_0_COMMIT = "845f7ea2900e330e42c0b78914c31bb59d177d8f"
# orders.reviewed.v1 did not exist then; its payload is its first form, from the commit that
# introduced it (it has gained no field since).
REVIEWED_COMMIT = "3971111"
# The fleet, zone and disruption contracts, in their first form.
THEATER_COMMIT = "bb5b79c"
OLD_FILES = ("schemas", "services/__init__.py", "services/common")
TOPICS_OF = {
    V1_0_COMMIT: (
        "orders.submitted.v1",
        "orders.parsed.v1",
        "orders.rejected.v1",
        "plans.proposed.v1",
        "plans.decided.v1",
        "plans.released.v1",
        "audit.events.v1",
    ),
    REVIEWED_COMMIT: ("orders.reviewed.v1",),
    THEATER_COMMIT: ("fleet.reported.v1", "zones.declared.v1", "plans.disrupted.v1"),
}


def history_available() -> bool:
    """True when git and both old commits are reachable from this checkout."""
    try:
        for commit in TOPICS_OF:
            subprocess.run(
                ["git", "cat-file", "-e", f"{commit}^{{commit}}"],
                cwd=REPO_ROOT,
                check=True,
                capture_output=True,
            )
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


def _old_tree(commit: str, dest: Path) -> None:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, *OLD_FILES],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")


def write_v1_0(out: Path) -> None:
    """Write every topic's v1.0 payload (and the fixture operator's key) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    for commit, topics in TOPICS_OF.items():
        with tempfile.TemporaryDirectory(prefix="qm-v1.0-") as tmp:
            _old_tree(commit, Path(tmp))
            env = {**os.environ, "PYTHONPATH": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
            subprocess.run(
                [sys.executable, str(PAYLOADS / "write_v1_0.py"), str(out), *topics],
                cwd=tmp,
                env=env,
                check=True,
            )


if __name__ == "__main__":
    write_v1_0(V1_0)
    print(f"wrote {sum(len(t) for t in TOPICS_OF.values())} v1.0 payloads to {V1_0}")
