"""The reduced chaos run (CI): kill -9 of services and the broker under load, oracle all zeros.

`qm chaos` starts its own broker on free ports, so this needs Java and the Kafka jars but not
KAFKA_BOOTSTRAP. The full run is `qm chaos --orders 10000 --kills 30`.
"""

from __future__ import annotations

import shutil

import pytest

from lab.cli.chaos import run_chaos

pytestmark = pytest.mark.kafka


def test_chaos_loses_nothing_and_duplicates_nothing() -> None:
    outcome, workdir = run_chaos(orders=1000, kills=5, seed=1, limit_s=600)
    table = outcome.table(dedupe=True)
    assert sum(outcome.kills.values()) == 5
    assert set(outcome.kills) == {"parser", "planner", "gate"}
    assert outcome.broker_restarts == 1
    found = {
        "lost": outcome.lost,
        "parsed and rejected": outcome.both,
        "duplicate proposals": outcome.duplicate_proposals,
        "duplicate releases": outcome.duplicate_releases,
        "unverified releases": outcome.unverified_releases,
        "parsed but unplanned": outcome.unplanned,
        "unreleased": outcome.unreleased,
    }
    assert found == dict.fromkeys(found, 0), f"{found}; logs in {workdir}; {table}"
    shutil.rmtree(workdir, ignore_errors=True)
