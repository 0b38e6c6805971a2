"""Consumer-lag arithmetic and metadata parsing, without a broker."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from services.common.lag import PartitionLag, compute_lag, publish, topic_partitions
from services.common.metrics import consumer_lag_gauge

T = "orders.submitted.v1"


def test_lag_is_end_minus_committed_offset() -> None:
    """A committed offset of 7 with the log ending at 10 leaves 3 messages to read."""
    rows = compute_lag({(T, 0): 7}, {(T, 0): 0}, {(T, 0): 10})
    assert rows == [PartitionLag(T, 0, 7, 10, 3)]


def test_a_partition_without_committed_offset_lags_from_the_log_start() -> None:
    """No offset (absent or -1) counts every retained message, not those deleted by retention."""
    rows = compute_lag({(T, 1): -1}, {(T, 0): 4, (T, 1): 2}, {(T, 0): 9, (T, 1): 5})
    assert [(r.partition, r.committed, r.lag) for r in rows] == [(0, None, 5), (1, None, 3)]


def test_lag_is_never_negative() -> None:
    """An offset committed past a truncated log end reads as caught up."""
    assert compute_lag({(T, 0): 12}, {}, {(T, 0): 10})[0].lag == 0


def test_rows_are_ordered_by_topic_and_partition() -> None:
    """Output is stable for tables and tests."""
    ends = {("b", 1): 0, ("a", 2): 0, ("a", 0): 0}
    assert [(r.topic, r.partition) for r in compute_lag({}, {}, ends)] == [
        ("a", 0),
        ("a", 2),
        ("b", 1),
    ]


def test_topic_partitions_skips_unknown_topics() -> None:
    """describe_topics reports a missing topic with an error code; it is left out."""
    described = [
        {"error_code": 0, "topic": T, "partitions": [{"partition": 2}, {"partition": 0}]},
        {"error_code": 3, "topic": "nope.v1", "partitions": []},
    ]
    assert topic_partitions(described) == {T: [0, 2]}


def test_publish_sets_one_gauge_sample_per_partition() -> None:
    """The gauge carries group, topic and partition labels."""
    registry = CollectorRegistry()
    gauge = consumer_lag_gauge(registry)
    publish(gauge, "g-test-lag", [PartitionLag(T, 0, 1, 5, 4), PartitionLag(T, 1, None, 2, 2)])
    labels = {"group": "g-test-lag", "topic": T}
    assert registry.get_sample_value("qm_consumer_lag", {**labels, "partition": "0"}) == 4
    assert registry.get_sample_value("qm_consumer_lag", {**labels, "partition": "1"}) == 2
