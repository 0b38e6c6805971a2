"""The load benchmark's pure parts: encoded orders, percentiles, medians, CPU accounting."""

from __future__ import annotations

import os

from lab.cli.load_measure import (
    LoadResult,
    cpu_seconds,
    encode_orders,
    median_result,
    percentile,
)
from schemas.orders import OrderSubmitted
from services.common.codec import decode


def test_encoded_orders_are_valid_contract_messages_with_unique_keys() -> None:
    """Every pre-encoded order decodes as OrderSubmitted, keyed by its id, texts cycled."""
    batch = encode_orders(["first text", "second text"], 5, "run1")
    orders = [decode(OrderSubmitted, value, 1_000_000) for _, value in batch]
    assert [key.decode() for key, _ in batch] == [o.order_id for o in orders]
    assert len({key for key, _ in batch}) == 5
    assert [o.text for o in orders] == ["first text", "second text"] * 2 + ["first text"]


def test_percentile_is_nearest_rank() -> None:
    """p50 and p99 of 1..100 are 50 and 99; an empty list gives 0."""
    values = [float(v) for v in range(100, 0, -1)]
    assert (percentile(values, 50), percentile(values, 99)) == (50.0, 99.0)
    assert percentile([], 50) == 0.0


def test_median_result_takes_the_median_rate_of_repeats() -> None:
    """Repeated runs report the median orders/s, latency and CPU, not the best run."""
    runs = [
        LoadResult(2, "live", 1000, seconds, p50, 10 * p50, 20 * p50, cpu)
        for seconds, p50, cpu in ((1.0, 5.0, 0.4), (2.0, 7.0, 0.5), (4.0, 9.0, 0.9))
    ]
    median = median_result(runs)
    assert median.rate == 500.0
    assert (median.p50_ms, median.cpu_ms, median.parsers, median.mode) == (7.0, 0.5, 2, "live")


def test_cpu_seconds_reads_the_processes_own_usage() -> None:
    """A running process has used some CPU; an unknown pid makes the figure unknown (NaN)."""
    sum(range(200_000))
    assert cpu_seconds([os.getpid()]) > 0
    assert cpu_seconds([2**22 + 12345]) != cpu_seconds([2**22 + 12345])  # NaN
