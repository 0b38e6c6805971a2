"""Parser handler: decode, parse, publish the demand or the rejection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from schemas.envelope import utcnow
from schemas.orders import (
    OrderParsed,
    OrderRejected,
    OrderReviewed,
    OrderSubmitted,
    RefusalCategory,
    RejectionOutcome,
    ReviewDecision,
)
from schemas.topics import Topic
from services.common.broker import (
    dead_letter_record,
    publish_all,
    publishes,
    records_of,
    service_router,
    subscribe,
)
from services.common.codec import DecodeError
from services.common.scenario import Scenario
from services.common.signing import TrustStore, UntrustedStoreError, load_verified_store
from services.parser.backends import safety_params
from services.parser.intake import read_order, where_of
from services.parser.judge import RedLineJudge
from services.parser.llm import LLMBackend, LLMError
from services.parser.metrics import ParserMetrics
from services.parser.pipeline import (
    ParseFailed,
    ParseResult,
    parse_many,
    read_released,
    to_messages,
)
from services.parser.review import (
    ReviewCheck,
    ReviewRefusal,
    ReviewState,
    check_answer,
    check_review,
    held_orders,
    refused_answer,
    waiting_for_answer,
)
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
        judge: RedLineJudge | None = None,
        metrics: ParserMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or ParserMetrics.on(CollectorRegistry())
        self.judge = judge
        self.safety = safety_params(settings)
        self.broker = broker
        self.scenario = scenario
        self.backend = backend
        self.reviews = ReviewState()
        # Reads held and reviewed orders back from Kafka (any parser process may hold an order
        # another one reads the review of); replaced in live apps, a no-op in memory.
        self.refresh_reviews: Callable[[ReviewState], Awaitable[None]] = _no_refresh
        for queue in ("review", "clarify"):
            self.metrics.waiting.labels(queue=queue).set_function(partial(self._count, queue))
            self.metrics.oldest_waiting.labels(queue=queue).set_function(
                partial(self._oldest, queue)
            )

    def _count(self, queue: str) -> float:
        return len(self._queue(queue))

    def _queue(self, queue: str) -> Mapping[str, OrderRejected]:
        if queue == "review":
            return held_orders(self.reviews)
        return waiting_for_answer(self.reviews)

    def _oldest(self, queue: str) -> float:
        waiting = self._queue(queue).values()
        if not waiting:
            return 0.0
        return (utcnow() - min(o.occurred_at for o in waiting)).total_seconds()

    async def on_orders_submitted(self, msg: KafkaMessage) -> None:
        """Turn a batch of free-text orders into OrderParsed or OrderRejected messages."""
        decoded: list[tuple[Any, OrderSubmitted]] = []
        for record in records_of(msg):
            try:
                order = read_order(
                    record.value or b"", where_of(record), self.settings.max_message_bytes
                )
            except DecodeError as err:
                self.metrics.orders.labels(outcome="invalid", reason="malformed").inc()
                await dead_letter_record(
                    self.broker, Topic.ORDERS_SUBMITTED, record, err.reason, err.detail, SERVICE
                )
            else:
                decoded.append((record, order))
        outgoing: list[tuple[Topic, BaseModel, str]] = []
        if any(order.amends for _, order in decoded):
            decoded, refused = await self._check_answers(decoded)
            outgoing.extend(self._outgoing(message, None) for message in refused)
        # One hop off the event loop per batch: the rules take about a millisecond per order.
        results = await asyncio.to_thread(
            parse_many,
            [o for _, o in decoded],
            self.scenario,
            self.backend,
            self.settings.model_policy,
            self.settings.concurrency,
            self.judge,
            self.safety,
        )
        for (record, _), result in zip(decoded, results, strict=True):
            if isinstance(result, LLMError | ParseFailed):
                reason = "llm_failed" if isinstance(result, LLMError) else "parser_error"
                self.metrics.orders.labels(outcome="invalid", reason=reason).inc()
                await dead_letter_record(
                    self.broker, Topic.ORDERS_SUBMITTED, record, reason, str(result), SERVICE
                )
            else:
                outgoing.extend(self._outgoing(message, result) for message in result.messages)
        await publish_all(self.broker, outgoing)

    def _trusted(self) -> TrustStore | ReviewCheck:
        """The administrator-signed trust store, or why nobody's signature can count now."""
        try:
            return load_verified_store(self.settings.trust_store, self.settings.admin_public_key)
        except UntrustedStoreError as err:
            return ReviewCheck(ReviewRefusal.UNTRUSTED_STORE, str(err))

    async def _check_answers(
        self, decoded: list[tuple[Any, OrderSubmitted]]
    ) -> tuple[list[tuple[Any, OrderSubmitted]], list[OrderRejected]]:
        """Split off the answers to unclear orders that may not be applied, as rejections."""
        await self.refresh_reviews(self.reviews)
        trust = self._trusted()
        kept: list[tuple[Any, OrderSubmitted]] = []
        refused: list[OrderRejected] = []
        for record, order in decoded:
            if not order.amends:
                kept.append((record, order))
                continue
            checked = (
                trust
                if isinstance(trust, ReviewCheck)
                else check_answer(order, self.reviews, trust, utcnow())
            )
            self.metrics.answers.labels(
                outcome=checked.refusal.value if checked.refusal else "applied"
            ).inc()
            if checked.refusal is None:
                self.reviews.answered[order.amends] = order.order_id  # a second answer is late
                kept.append((record, order))
                continue
            log.warning(
                "answer %s to %s refused: %s (%s)",
                order.order_id,
                order.amends,
                checked.refusal.value,
                checked.detail,
            )
            refused.append(refused_answer(order, checked))
        return kept, refused

    async def on_order_reviewed(self, review: OrderReviewed) -> None:
        """Apply a person's signed safety review: release the held order or refuse it."""
        await self.refresh_reviews(self.reviews)
        trust = self._trusted()
        checked = (
            trust
            if isinstance(trust, ReviewCheck)
            else check_review(review, self.reviews, trust, utcnow())
        )
        decision = review.decision.value
        if checked.refusal is not None:
            self.metrics.reviews.labels(decision=decision, outcome=checked.refusal.value).inc()
            log.warning(
                "review %s of %s by %s refused: %s (%s)",
                review.message_id,
                review.order_id,
                review.operator_id,
                checked.refusal.value,
                checked.detail,
            )
            return
        held = self.reviews.held[review.order_id]
        messages = await asyncio.to_thread(self._after_review, review, held)
        await publish_all(self.broker, [self._outgoing(m, None) for m in messages])
        # Only once published: a failed publish is redelivered and must not read as applied.
        self.reviews.decided[review.order_id] = review.message_id
        self.metrics.reviews.labels(decision=decision, outcome="applied").inc()
        log.info("review %s: %s by %s", review.message_id, decision, review.operator_id)

    def _after_review(
        self, review: OrderReviewed, held: OrderRejected
    ) -> tuple[OrderParsed | OrderRejected, ...]:
        """Blocking: the messages a verified review produces for its held order."""
        who = f"human:{review.operator_id}"
        order = OrderSubmitted(
            message_id=held.message_id,
            occurred_at=held.occurred_at,
            order_id=held.order_id,
            text=held.text or "",
            submitted_by=held.submitted_by,
            submitter=held.submitter,
        )
        if review.decision is ReviewDecision.REFUSE:
            category = review.category or RefusalCategory.SURVEILLANCE
            return (
                OrderRejected(
                    message_id=f"{held.message_id}-reviewed",
                    occurred_at=held.occurred_at,
                    order_id=held.order_id,
                    outcome=RejectionOutcome.REFUSED,
                    category=category,
                    reasons=(f"safety review by {review.operator_id}: {review.reason}",),
                    text=held.text,
                    submitted_by=held.submitted_by,
                    submitter=held.submitter,
                    flags=(*held.flags, f"reviewed:{review.message_id}"),
                    evidence=held.evidence,
                    decided_by=who,
                ),
            )
        done = read_released(order.text, order.occurred_at, self.scenario, self.backend)
        released = to_messages(order, done, "rules")
        stamp = (
            f"released_by:{review.operator_id}",
            f"reviewed:{review.message_id}",
            f"review_of:{held.order_id}",
        )
        return tuple(
            m.model_copy(update={"flags": (*m.flags, *stamp), "message_id": f"{m.message_id}-r"})
            for m in released
        )

    def _outgoing(
        self, message: OrderParsed | OrderRejected, result: ParseResult | None
    ) -> tuple[Topic, BaseModel, str]:
        """Count the result and say where it goes."""
        if result is not None and result.judgement is not None:
            self.metrics.judge_seconds.observe(result.judgement.seconds)
        extracted = result.extracted if result is not None else None
        for completion in extracted.completions if extracted else ():
            self.metrics.llm_seconds.observe(completion.seconds)
            self.metrics.llm_tokens.labels(kind="prompt").inc(completion.prompt_tokens)
            self.metrics.llm_tokens.labels(kind="completion").inc(completion.completion_tokens)
        if isinstance(message, OrderParsed):
            self.reviews.note_answer(message.order_id, message.flags)
            self.metrics.orders.labels(outcome="accepted", reason="ok").inc()
            for field, value in message.confidence.items():
                self.metrics.confidence.labels(field=field).observe(value)
            log.debug("parsed %s → %s", message.order_id, message.destination)
            return Topic.ORDERS_PARSED, message, message.order_id
        self.reviews.remember(message)  # held or unclear: waiting for a person
        reason = message.category.value if message.category else ",".join(message.missing) or "-"
        self.metrics.orders.labels(outcome=message.outcome.value, reason=reason).inc()
        log.info(
            "rejected %s: %s (%s)",
            message.order_id,
            message.outcome.value,
            "; ".join(message.reasons)[:200],
        )
        return Topic.ORDERS_REJECTED, message, message.order_id


async def _no_refresh(state: ReviewState) -> None:
    return None


def build_router(parser: Parser) -> KafkaRouter:
    """Subscribe the parser to submitted orders and to safety reviews."""
    router = service_router(parser.broker, SERVICE)
    # Submitted orders are read record by record (`intake.read_order`): plain text from any
    # Kafka client is an order too, and each record of a batch meets its own fate.
    subscribe(
        router,
        Topic.ORDERS_SUBMITTED,
        parser.on_orders_submitted,
        group_id=parser.settings.group_id,
        batch_max=parser.settings.batch_max,
    )
    subscribe(
        router,
        Topic.ORDERS_REVIEWED,
        parser.on_order_reviewed,
        group_id=f"{parser.settings.group_id}-reviews",
        max_bytes=parser.settings.max_message_bytes,
    )
    publishes(router, Topic.ORDERS_PARSED, Topic.ORDERS_REJECTED)
    return router
