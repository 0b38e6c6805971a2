"""Shared fixtures: the real-broker address and fresh isolated state."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.wire"]


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The real Kafka broker; `make test` starts one and sets KAFKA_BOOTSTRAP."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP", "")
    if not bootstrap:
        pytest.fail("real-broker tests need KAFKA_BOOTSTRAP; run them with `make test`")
    return bootstrap
