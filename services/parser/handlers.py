"""Parser handler: decode, parse, publish the demand or the rejection."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel

from schemas.orders import OrderParsed, OrderRejected, OrderSubmitted
from schemas.topics import Topic
from services.common.broker import dead_letter_record, publish_all, records_of, subscribe
from services.common.codec import DecodeError, decode
from services.common.scenario import Scenario
from services.parser import metrics
from services.parser.llm import LLMBackend, LLMError
from services.parser.pipeline import ParseResult, parse_many
from services.parser.settings import ParserSettings

log = logging.getLogger("qm.parser")
SERVICE = "parser"


class Parser:
    """Holds what the handler needs: settings, broker, scenario and the model."""

    def __init__(
        self,
        settings: ParserSettings,
        broker: KafkaBroker,
        scenario: Scenario,
        backend: LLMBackend | None,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.scenario = scenario
        self.backend = backend

    async def on_orders_submitted(self, msg: KafkaMessage) -> None:
        """Turn a batch of free-text orders into OrderParsed or OrderRejected messages."""
        decoded: list[tuple[Any, OrderSubmitted]] = []
        for record in records_of(msg):
            try:
                order = decode(OrderSubmitted, record.value or b"", self.settings.max_message_bytes)
            except DecodeError as err:
                metrics.ORDERS.labels(outcome="invalid", reason="malformed").inc()
                await dead_letter_record(
                    self.broker, Topic.ORDERS_SUBMITTED, record, err.reason, err.detail, SERVICE
                )
            else:
                decoded.append((record, order))
        # One hop off the event loop per batch: the rules take about a millisecond per order.
        results = await asyncio.to_thread(
            parse_many,
            [o for _, o in decoded],
            self.scenario,
            self.backend,
            self.settings.model_policy,
            self.settings.concurrency,
        )
        outgoing: list[tuple[Topic, BaseModel, str]] = []
        for (record, _), result in zip(decoded, results, strict=True):
            if isinstance(result, LLMError):
                metrics.ORDERS.labels(outcome="invalid", reason="llm_failed").inc()
                await dead_letter_record(
                    self.broker, Topic.ORDERS_SUBMITTED, record, "llm_failed", str(result), SERVICE
                )
            else:
                outgoing.extend(self._outgoing(message, result) for message in result.messages)
        await publish_all(self.broker, outgoing)

    def _outgoing(
        self, message: OrderParsed | OrderRejected, result: ParseResult
    ) -> tuple[Topic, BaseModel, str]:
        """Count the result and say where it goes."""
        for completion in result.extracted.completions if result.extracted else ():
            metrics.LLM_SECONDS.observe(completion.seconds)
            metrics.LLM_TOKENS.labels(kind="prompt").inc(completion.prompt_tokens)
            metrics.LLM_TOKENS.labels(kind="completion").inc(completion.completion_tokens)
        if isinstance(message, OrderParsed):
            metrics.ORDERS.labels(outcome="accepted", reason="ok").inc()
            for field, value in message.confidence.items():
                metrics.CONFIDENCE.labels(field=field).observe(value)
            log.debug("parsed %s → %s", message.order_id, message.destination)
            return Topic.ORDERS_PARSED, message, message.order_id
        reason = message.category.value if message.category else ",".join(message.missing) or "-"
        metrics.ORDERS.labels(outcome=message.outcome.value, reason=reason).inc()
        log.info(
            "rejected %s: %s (%s)",
            message.order_id,
            message.outcome.value,
            "; ".join(message.reasons)[:200],
        )
        return Topic.ORDERS_REJECTED, message, message.order_id


def build_router(parser: Parser) -> KafkaRouter:
    """Subscribe the parser to submitted orders."""
    router = KafkaRouter()
    subscribe(
        router,
        Topic.ORDERS_SUBMITTED,
        parser.on_orders_submitted,
        group_id=parser.settings.group_id,
        batch_max=parser.settings.batch_max,
    )
    return router
