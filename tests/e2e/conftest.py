"""A real stack for end-to-end tests: the services as processes on the real broker, qm as a CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lab.supervisor import Supervisor

REPO = Path(__file__).resolve().parents[2]
QM = str(Path(sys.executable).parent / "qm")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """Services started for one test, with their own consumer groups and state dir."""

    env: dict[str, str]
    logs: Path
    ports: dict[str, int] = field(default_factory=dict)
    services: Supervisor = field(init=False)

    def __post_init__(self) -> None:
        self.services = Supervisor(self.env, self.logs)

    def start(self, service: str, **extra: str) -> None:
        """Start `python -m services.<service>` with the stack's environment."""
        port = free_port()
        self.ports[service] = port
        self.services.start(service, **{f"QM_{service.upper()}_METRICS_PORT": str(port), **extra})

    def restart(self, service: str, **extra: str) -> None:
        """Stop one service (SIGTERM, as an orchestrator would) and start it again."""
        self.services.stop(service)
        self.start(service, **extra)

    def qm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the qm CLI as an operator would."""
        result = subprocess.run(
            [QM, *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"qm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def qm_json(self, *args: str) -> Any:
        """Run qm with --json and parse its output."""
        return json.loads(self.qm(*args, "--json").stdout)

    def metric(self, service: str, name: str) -> float:
        """Sum of a metric's samples (with any labels) scraped from a service's /metrics."""
        import urllib.request

        url = f"http://127.0.0.1:{self.ports[service]}/metrics"
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and not line.startswith("#")
        )

    def alive(self) -> dict[str, bool]:
        """Which services are still running."""
        return self.services.alive()

    def stop(self) -> None:
        """Terminate every service and wait for it."""
        self.services.stop_all()


def wait_for(what: str, probe: Callable[[], Any], timeout: float, logs: Path) -> Any:
    """Poll until probe returns something truthy; fail with the services' logs otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(1.0)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs.glob("*.log"))
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")


@pytest.fixture
def stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    """A fresh state dir, trusted test operators and unique consumer groups on the real broker."""
    run_id = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "QM_STATE_DIR": str(tmp_path / "state"),
        "QM_PARSER_GROUP_ID": f"e2e-parser-{run_id}",
        "QM_PLANNER_GROUP_ID": f"e2e-planner-{run_id}",
        "QM_PLANNER_TIME_LIMIT_S": "2",
        # Tests share topics, so another test's batch would supersede this one's plan; the
        # re-planning tests switch it on for themselves.
        "QM_PLANNER_REPLAN": "false",
        "QM_LOG_LEVEL": "INFO",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    stack = Stack(env, logs)
    stack.qm("topics", "create")
    secret = tmp_path / "admin-passphrase"
    secret.write_text(uuid.uuid4().hex)
    stack.qm("keys", "admin-init", "--passphrase-file", str(secret))
    for operator in ("duty-officer", "second-officer", "s4-clerk"):
        stack.qm("keys", "create", "--operator", operator)
    stack.qm("keys", "sign-store", "--yes", "--passphrase-file", str(secret))
    try:
        yield stack
    finally:
        stack.stop()
