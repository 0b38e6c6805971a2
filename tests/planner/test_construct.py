"""savings_routes: Clarke-Wright construction on small matrix problems."""

from __future__ import annotations

from services.planner.construct import savings_routes
from services.planner.problem import Customers, customers_problem


def _line(capacity: int, close: int = 1000) -> Customers:
    # Depot 0 and customers 1..4 on a line, 10 apart: joining them saves distance.
    pos = [0, 10, 20, 30, 40]
    dist = tuple(tuple(abs(a - b) for b in pos) for a in pos)
    return Customers(
        distance=dist,
        travel=dist,
        demand=(0, 1, 1, 1, 1),
        windows=((0, close), *(((0, close),) * 4)),
        service=(0, 0, 0, 0, 0),
        capacity=capacity,
        vehicles=4,
    )


def test_savings_merge_everything_when_capacity_allows() -> None:
    """With room for all, the customers on a line make one route."""
    routes = savings_routes(customers_problem(_line(capacity=4)))
    assert routes is not None
    assert len(routes) == 1
    assert sorted(routes[0]) == [1, 2, 3, 4]


def test_savings_respect_capacity() -> None:
    """Capacity 2 means no route carries more than two customers."""
    routes = savings_routes(customers_problem(_line(capacity=2)))
    assert routes is not None
    assert all(len(r) <= 2 for r in routes)
    assert sorted(n for r in routes for n in r) == [1, 2, 3, 4]


def test_savings_respect_the_shift() -> None:
    """A depot closing at 80 leaves no time to chain the far customers."""
    routes = savings_routes(customers_problem(_line(capacity=4, close=80)))
    assert routes is not None
    for route in routes:
        # Position of node k is 10 k; a route out and back along the line is 20 * farthest.
        assert 20 * max(route) <= 80
