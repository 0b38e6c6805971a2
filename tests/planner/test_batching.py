"""Batcher: closes by count or window, and never takes an order twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.planner.batching import Batcher, BatchParams
from tests.planner.conftest import OrderFactory
from tests.planner.helpers import NOW


def test_full_batch_is_returned_at_max_orders(order: OrderFactory) -> None:
    """The third order closes a batch of three and the batcher starts empty again."""
    b = Batcher(BatchParams(max_orders=3))
    assert b.add(order("a", "FOB-1", ("TARP", 1)), NOW) is None
    assert b.add(order("b", "FOB-1", ("TARP", 1)), NOW) is None
    batch = b.add(order("c", "FOB-1", ("TARP", 1)), NOW)
    assert batch is not None
    assert [o.order_id for o in batch] == ["a", "b", "c"]
    assert len(b) == 0
    assert not b.due(NOW + timedelta(hours=1))


def test_window_runs_from_the_first_order(order: OrderFactory) -> None:
    """A batch is due once the window has passed since its first order, not its last."""
    b = Batcher(BatchParams(max_orders=10, window=timedelta(seconds=30)))
    assert not b.due(NOW)
    b.add(order("a", "FOB-1", ("TARP", 1)), NOW)
    b.add(order("b", "FOB-1", ("TARP", 1)), NOW + timedelta(seconds=20))
    assert not b.due(NOW + timedelta(seconds=29))
    assert b.due(NOW + timedelta(seconds=30))
    assert [o.order_id for o in b.take()] == ["a", "b"]
    assert not b.due(NOW + timedelta(seconds=60))


def test_redelivered_order_is_not_added_twice(order: OrderFactory) -> None:
    """The same order id, pending or already batched, is ignored until forgotten."""
    b = Batcher(BatchParams(max_orders=2))
    b.add(order("a", "FOB-1", ("TARP", 1)), NOW)
    assert b.add(order("a", "FOB-1", ("TARP", 1)), NOW) is None
    assert len(b) == 1
    b.take()
    b.add(order("a", "FOB-1", ("TARP", 1)), NOW)
    assert len(b) == 0
    b.forget(["a"])
    b.add(order("a", "FOB-1", ("TARP", 1)), NOW)
    assert len(b) == 1


def test_unsafe_params_are_refused() -> None:
    """A zero-size batch or an empty window is a configuration error."""
    with pytest.raises(ValueError, match="max_orders"):
        BatchParams(max_orders=0)
    with pytest.raises(ValueError, match="window"):
        BatchParams(window=timedelta(0))
