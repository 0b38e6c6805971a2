"""Parser handler: decode, parse, publish the demand or the rejection."""

from __future__ import annotations

import logging

from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from schemas.orders import OrderParsed, OrderSubmitted
from schemas.topics import Topic
from services.common.broker import dead_letter, decode_or_dead_letter, publish, subscribe
from services.common.scenario import Scenario
from services.parser import metrics
from services.parser.llm import LLMBackend, LLMError
from services.parser.pipeline import ParseResult, parse_order
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

    async def on_order_submitted(self, msg: KafkaMessage) -> None:
        """Turn one free-text order into OrderParsed or OrderRejected."""
        order = await decode_or_dead_letter(
            self.broker, Topic.ORDERS_SUBMITTED, OrderSubmitted, msg, self.settings, SERVICE
        )
        if order is None:
            metrics.ORDERS.labels(outcome="invalid", reason="malformed").inc()
            return
        try:
            result = await parse_order(
                order, self.scenario, self.backend, self.settings.model_policy
            )
        except LLMError as err:
            metrics.ORDERS.labels(outcome="invalid", reason="llm_failed").inc()
            await dead_letter(
                self.broker, Topic.ORDERS_SUBMITTED, msg, "llm_failed", str(err), SERVICE
            )
            return
        await self._publish(result)

    async def _publish(self, result: ParseResult) -> None:
        message = result.message
        for completion in result.extracted.completions if result.extracted else ():
            metrics.LLM_SECONDS.observe(completion.seconds)
            metrics.LLM_TOKENS.labels(kind="prompt").inc(completion.prompt_tokens)
            metrics.LLM_TOKENS.labels(kind="completion").inc(completion.completion_tokens)
        if isinstance(message, OrderParsed):
            await publish(self.broker, Topic.ORDERS_PARSED, message, message.order_id)
            metrics.ORDERS.labels(outcome="accepted", reason="ok").inc()
            for field, value in message.confidence.items():
                metrics.CONFIDENCE.labels(field=field).observe(value)
            log.info(
                "parsed %s → %s, %d line(s), %s",
                message.order_id,
                message.destination,
                len(message.lines),
                message.priority.value,
            )
            return
        await publish(self.broker, Topic.ORDERS_REJECTED, message, message.order_id)
        reason = message.category.value if message.category else ",".join(message.missing) or "-"
        metrics.ORDERS.labels(outcome=message.outcome.value, reason=reason).inc()
        log.info(
            "rejected %s: %s (%s)",
            message.order_id,
            message.outcome.value,
            "; ".join(message.reasons)[:200],
        )


def build_router(parser: Parser) -> KafkaRouter:
    """Subscribe the parser to submitted orders."""
    router = KafkaRouter()
    subscribe(
        router, Topic.ORDERS_SUBMITTED, parser.on_order_submitted, group_id=parser.settings.group_id
    )
    return router
