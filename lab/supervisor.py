"""Service processes for the lab and the end-to-end tests: start, kill -9, stop, restart.

One supervisor for the chaos harness, the load bench and the e2e fixture, so each starts
`python -m <module>` the same way, logs to one file per process and stops it the same way.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Supervisor:
    """Named processes sharing an environment; each writes `<logs>/<name>.log`."""

    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, module: str | None = None, **extra: str) -> None:
        """Start `python -m <module>` (default `services.<name>`) with extra variables."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", module or f"services.{name}"],
            cwd=REPO,
            env={**self.env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash would: no shutdown hook runs."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, name: str, timeout_s: float = 20) -> None:
        """SIGTERM, as an orchestrator would; SIGKILL after `timeout_s`."""
        proc = self.procs.pop(name)
        _terminate([proc], timeout_s)

    def exited(self) -> dict[str, int]:
        """The processes that ended on their own, with their exit codes."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def alive(self) -> dict[str, bool]:
        """Which processes still run."""
        return {name: proc.poll() is None for name, proc in self.procs.items()}

    def stop_all(self, timeout_s: float = 20) -> None:
        """SIGTERM every process, then wait; SIGKILL what does not end in time."""
        _terminate(list(self.procs.values()), timeout_s)
        self.procs.clear()


def _terminate(procs: list[subprocess.Popen[bytes]], timeout_s: float) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
