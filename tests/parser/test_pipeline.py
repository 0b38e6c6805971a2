"""parse_many: order kept, model calls overlap up to the limit, failures stay local."""

from __future__ import annotations

import threading
import time
from typing import Any

from schemas.envelope import content_id
from schemas.orders import OrderParsed, OrderSubmitted
from services.common.scenario import load_scenario
from services.common.settings import DEFAULT_SCENARIO
from services.parser.extraction import Extraction
from services.parser.llm import Completion, LLMError
from services.parser.pipeline import ParseResult, parse_many
from tests.factories import NOW


class _CountingModel:
    """Records how many calls are in flight at once; fails on orders that say 'explode'."""

    name = "counting"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most = 0

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Completion:
        with self._lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            time.sleep(0.05)  # long enough for the other threads to arrive
            if "explode" in messages[-1]["content"]:
                raise LLMError("model down")
            return Completion(Extraction().model_dump_json(), 1, 1, 0.05)
        finally:
            with self._lock:
                self.in_flight -= 1


def _orders(texts: list[str]) -> list[OrderSubmitted]:
    return [
        OrderSubmitted(message_id=f"m{i}", occurred_at=NOW, order_id=content_id("o", i), text=t)
        for i, t in enumerate(texts)
    ]


def test_calls_overlap_up_to_the_limit_and_results_keep_their_order():
    model = _CountingModel()
    texts = [f"send {n} pallets of bottled water to FOB Halcyon" for n in range(1, 9)]
    results = parse_many(
        _orders(texts), load_scenario(DEFAULT_SCENARIO).scenario, model, "always", concurrency=4
    )
    assert 1 < model.most <= 4
    quantities = [
        r.messages[0].lines[0].quantity
        for r in results
        if isinstance(r, ParseResult) and isinstance(r.messages[0], OrderParsed)
    ]
    assert quantities == list(range(1, 9))


def test_a_model_failure_is_returned_for_that_order_only():
    texts = ["send 2 pallets of bottled water to FOB Halcyon", "explode", "send 3 tents to Solane"]
    results = parse_many(
        _orders(texts),
        load_scenario(DEFAULT_SCENARIO).scenario,
        _CountingModel(),
        "always",
        concurrency=2,
    )
    assert [type(r).__name__ for r in results] == ["ParseResult", "LLMError", "ParseResult"]


class _BrokenJudge:
    """A judge whose model is down."""

    name = "down"

    def __call__(self, text: str) -> Any:
        raise LLMError("judge endpoint refused the connection")


def test_an_order_the_judge_cannot_read_is_not_accepted_without_it() -> None:
    """Fail closed: a judge failure is returned (the handler dead-letters it), never a demand."""
    results = parse_many(
        _orders(["send 2 pallets of bottled water to FOB Halcyon"]),
        load_scenario(DEFAULT_SCENARIO).scenario,
        None,
        "fallback",
        judge=_BrokenJudge(),
    )
    assert [type(r).__name__ for r in results] == ["LLMError"]
