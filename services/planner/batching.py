"""Collect parsed orders into batches, closed by count or by a time window."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.orders import OrderParsed


@dataclass(frozen=True)
class BatchParams:
    """A batch closes at max_orders, or once window has passed since its first order."""

    max_orders: int = 25
    window: timedelta = timedelta(seconds=30)
    remember: int = 10_000

    def __post_init__(self) -> None:
        if self.max_orders < 1:
            raise ValueError("max_orders must be at least 1")
        if self.window <= timedelta(0):
            raise ValueError("window must be positive; use e.g. 30 seconds")
        if self.remember < self.max_orders:
            raise ValueError("remember must be at least max_orders to deduplicate a batch")


class Batcher:
    """Pure batching state: no clock and no I/O; the caller passes the time in."""

    def __init__(self, params: BatchParams | None = None) -> None:
        self.params = params or BatchParams()
        self._pending: list[OrderParsed] = []
        self._opened: datetime | None = None
        # Ids seen recently, pending or already batched: a redelivery must not plan twice.
        self._seen: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, order: OrderParsed, now: datetime) -> list[OrderParsed] | None:
        """Add an order; return the full batch when it reaches max_orders, else None."""
        if order.order_id in self._seen:
            return None
        self._seen[order.order_id] = None
        while len(self._seen) > self.params.remember:
            self._seen.popitem(last=False)
        if not self._pending:
            self._opened = now
        self._pending.append(order)
        if len(self._pending) >= self.params.max_orders:
            return self.take()
        return None

    def due(self, now: datetime) -> bool:
        """Whether the window since the batch's first order has elapsed."""
        return self._opened is not None and now - self._opened >= self.params.window

    def take(self) -> list[OrderParsed]:
        """Hand over the pending orders and start a new batch."""
        batch, self._pending, self._opened = self._pending, [], None
        return batch

    def remember(self, order_ids: list[str]) -> None:
        """Mark orders as already planned (read back from proposals after a restart)."""
        for order_id in order_ids:
            self._seen[order_id] = None
        while len(self._seen) > self.params.remember:
            self._seen.popitem(last=False)

    def forget(self, order_ids: list[str]) -> None:
        """Let these orders be batched again, e.g. after their plan could not be published."""
        for order_id in order_ids:
            self._seen.pop(order_id, None)
