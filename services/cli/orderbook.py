"""Every order's fate, read back from the topics: submitted → parsed / clarify / refused / held →
in plan P → released / rejected / expired / superseded, and the versions that answered it.

`fold` is pure (records in, fates out), so the lifecycle can be tested without a broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.envelope import utcnow
from schemas.orders import OrderParsed, OrderRejected, OrderSubmitted
from schemas.plans import Decision, PlanDecided, PlanProposed, PlanReleased
from schemas.topics import Topic
from services.common.codec import DecodeError, decode
from services.common.kafka import read_topics
from services.common.settings import CommonSettings
from services.parser.review import AMENDS_FLAG

TOPICS = (
    Topic.ORDERS_SUBMITTED,
    Topic.ORDERS_PARSED,
    Topic.ORDERS_REJECTED,
    Topic.PLANS_PROPOSED,
    Topic.PLANS_DECIDED,
    Topic.PLANS_RELEASED,
)
# What `qm orders list --status` filters on; "waiting" means waiting for a person.
STATUSES = (
    "submitted",
    "parsed",
    "clarify",
    "invalid",
    "review",
    "refused",
    "planned",
    "unserved",
    "released",
    "plan_rejected",
    "expired",
    "answered",
    "split",
)


@dataclass(frozen=True)
class Event:
    """One step in an order's life."""

    at: datetime
    stage: str
    detail: str


@dataclass
class Fate:
    """One order as the topics tell it."""

    order_id: str
    text: str = ""
    submitted_by: str | None = None
    signed_by: str | None = None
    amends: str | None = None
    answered_by: str | None = None
    parts: list[str] = field(default_factory=list)
    parsed: OrderParsed | None = None
    rejected: OrderRejected | None = None
    plan: PlanProposed | None = None
    plan_status: str = ""
    events: list[Event] = field(default_factory=list)

    @property
    def status(self) -> str:
        """Where the order stands now (one of STATUSES)."""
        if self.answered_by:
            return "answered"
        if self.plan is not None:
            unserved = {u.order_id for u in self.plan.unserved}
            if self.order_id in unserved and self.plan_status == "pending":
                return "unserved"
            return {"pending": "planned", "rejected": "plan_rejected"}.get(
                self.plan_status, self.plan_status
            )
        if self.parsed is not None:
            return "parsed"
        if self.rejected is not None:
            return self.rejected.outcome.value
        return "split" if self.parts else "submitted"

    @property
    def injected(self) -> tuple[str, ...]:
        """What the parser cut out of the order as injection."""
        read = self.parsed or self.rejected
        return read.injected if read is not None else ()

    @property
    def since(self) -> datetime:
        """When the latest step happened."""
        return max((e.at for e in self.events), default=utcnow())

    def summary(self) -> str:
        """What a person needs to know next, in one line."""
        status = self.status
        if status == "clarify" and self.rejected is not None:
            return f"missing {', '.join(self.rejected.missing) or '?'}: {self.rejected.reasons[0]}"
        if status in ("refused", "review", "invalid") and self.rejected is not None:
            category = self.rejected.category.value if self.rejected.category else ""
            return f"{category} {self.rejected.reasons[0]}".strip()
        if status in ("planned", "released", "plan_rejected", "expired", "unserved"):
            assert self.plan is not None
            return f"plan {self.plan.plan_id}"
        if status == "answered":
            return f"answered by {self.answered_by}"
        if status == "split":
            return f"split into {', '.join(self.parts)}"
        if status == "parsed" and self.parsed is not None:
            lines = ", ".join(f"{x.quantity} {x.sku}" for x in self.parsed.lines)
            return f"{lines} to {self.parsed.destination}; waiting for the planner"
        return "waiting for the parser"

    def as_json(self) -> dict[str, Any]:
        """The fate as plain data for `--json`."""
        return {
            "order_id": self.order_id,
            "status": self.status,
            "summary": self.summary(),
            "text": self.text,
            "submitted_by": self.submitted_by,
            "signed_by": self.signed_by,
            "amends": self.amends,
            "answered_by": self.answered_by,
            "parts": self.parts,
            "plan_id": self.plan.plan_id if self.plan else None,
            "missing": list(self.rejected.missing) if self.rejected else [],
            "reasons": list(self.rejected.reasons) if self.rejected else [],
            "evidence": list(self.rejected.evidence) if self.rejected else [],
            "evidence_spans": [list(s) for s in self.rejected.evidence_spans]
            if self.rejected
            else [],
            "fields": self.parsed.model_dump(
                mode="json",
                include={"destination", "lines", "priority", "not_before", "deliver_by"},
            )
            if self.parsed
            else None,
            "confidence": self.parsed.confidence if self.parsed else {},
            "sources": self.parsed.sources if self.parsed else {},
            "spans": {k: [list(s) for s in v] for k, v in self.parsed.spans.items()}
            if self.parsed
            else {},
            "parser": self.parsed.parser if self.parsed else None,
            "injected": list(self.injected),
            "events": [
                {"at": e.at.isoformat(), "stage": e.stage, "detail": e.detail}
                for e in sorted(self.events, key=lambda e: e.at)
            ],
        }


class Book:
    """Fates by order id, filled from decoded messages in the order the topics hold them."""

    def __init__(self) -> None:
        self.fates: dict[str, Fate] = {}
        self._plans: dict[str, PlanProposed] = {}
        self._status: dict[str, str] = {}

    def _fate(self, order_id: str) -> Fate:
        fate = self.fates.get(order_id)
        if fate is None:
            fate = self.fates[order_id] = Fate(order_id)
            original = order_id.rpartition(".")[0]
            if original and original in self.fates:  # a part of a text for several places
                self.fates[original].parts.append(order_id)
                fate.submitted_by = self.fates[original].submitted_by
                fate.signed_by = self.fates[original].signed_by
        return fate

    def submitted(self, order: OrderSubmitted) -> None:
        fate = self._fate(order.order_id)
        fate.text, fate.submitted_by, fate.amends = order.text, order.submitted_by, order.amends
        claim = order.signed_submitter()
        fate.signed_by = claim.operator_id if claim else None
        how = f"signed by {fate.signed_by}" if fate.signed_by else "unsigned"
        by = order.submitted_by or "nobody named"
        detail = f"by {by} ({how})" + (f", answering {order.amends}" if order.amends else "")
        fate.events.append(Event(order.occurred_at, "submitted", detail))

    def parsed(self, order: OrderParsed) -> None:
        fate = self._fate(order.order_id)
        fate.parsed, fate.text = order, fate.text or order.text
        lines = ", ".join(f"{x.quantity} {x.unit} {x.sku}" for x in order.lines)
        fate.events.append(
            Event(order.occurred_at, "parsed", f"{lines} to {order.destination} ({order.parser})")
        )
        self._answers(order.order_id, order.flags, order.occurred_at)

    def rejected(self, order: OrderRejected) -> None:
        fate = self._fate(order.order_id)
        fate.rejected, fate.text = order, fate.text or order.text or ""
        detail = "; ".join(order.reasons)
        if order.decided_by:
            detail += f" (by {order.decided_by})"
        fate.events.append(Event(order.occurred_at, order.outcome.value, detail))
        self._answers(order.order_id, order.flags, order.occurred_at)

    def _answers(self, order_id: str, flags: Iterable[str], at: datetime) -> None:
        for flag in flags:
            if flag.startswith(AMENDS_FLAG):
                old = self._fate(flag.removeprefix(AMENDS_FLAG))
                if old.answered_by is None:
                    old.answered_by = order_id
                    old.events.append(Event(at, "answered", f"by the new version {order_id}"))

    def proposed(self, plan: PlanProposed) -> None:
        self._plans[plan.plan_id] = plan
        self._status[plan.plan_id] = "pending"
        if plan.supersedes in self._status:
            self._status[plan.supersedes] = "superseded"
        unserved = {u.order_id: u.reason for u in plan.unserved}
        for order_id in plan.order_ids:
            fate = self._fate(order_id)
            fate.plan = plan
            what = f"unserved: {unserved[order_id]}" if order_id in unserved else "served"
            again = f", superseding {plan.supersedes}" if plan.supersedes else ""
            fate.events.append(
                Event(plan.occurred_at, "planned", f"{plan.plan_id} ({what}{again})")
            )

    def decided(self, decision: PlanDecided) -> None:
        if decision.decision is Decision.REJECT and decision.plan_id in self._plans:
            self._status[decision.plan_id] = "rejected"
            for order_id in self._plans[decision.plan_id].order_ids:
                self._fate(order_id).events.append(
                    Event(decision.occurred_at, "plan_rejected", decision.reason)
                )

    def released(self, release: PlanReleased) -> None:
        self._status[release.plan_id] = "released"
        who = ", ".join(a.operator_id for a in release.approvals)
        for order_id in release.plan.order_ids:
            self._fate(order_id).events.append(
                Event(release.occurred_at, "released", f"{release.plan_id} approved by {who}")
            )

    def finish(self, now: datetime) -> dict[str, Fate]:
        """Each order's plan status, once every record is in."""
        for fate in self.fates.values():
            if fate.plan is None:
                continue
            status = self._status.get(fate.plan.plan_id, "pending")
            if status == "pending" and fate.plan.expires_at < now:
                status = "expired"
            fate.plan_status = status
        return self.fates


_DECODERS: dict[str, tuple[type[Any], str]] = {
    Topic.ORDERS_SUBMITTED.value: (OrderSubmitted, "submitted"),
    Topic.ORDERS_PARSED.value: (OrderParsed, "parsed"),
    Topic.ORDERS_REJECTED.value: (OrderRejected, "rejected"),
    Topic.PLANS_PROPOSED.value: (PlanProposed, "proposed"),
    Topic.PLANS_DECIDED.value: (PlanDecided, "decided"),
    Topic.PLANS_RELEASED.value: (PlanReleased, "released"),
}


def fold(records: Iterable[Any], max_bytes: int, now: datetime) -> dict[str, Fate]:
    """Fates from topic records (anything with .topic and .value), oldest first. Records that
    do not decode (plain-text orders from other clients, poison) are passed over: the parser's
    outcome for them still tells their fate."""
    book = Book()
    seen: set[str] = set()  # a redelivered message (same content id) is one step, not two
    ordered = sorted(records, key=lambda r: (_TOPIC_RANK.get(r.topic, 9), r.timestamp_ms))
    for record in ordered:
        kind = _DECODERS.get(record.topic)
        if kind is None:
            continue
        try:
            message = decode(kind[0], record.value, max_bytes)
        except DecodeError:
            continue
        if message.message_id in seen:
            continue
        seen.add(message.message_id)
        getattr(book, kind[1])(message)
    return book.finish(now)


# Submissions first, so a part of a split text finds its original; then the rest by time.
_TOPIC_RANK = {Topic.ORDERS_SUBMITTED.value: 0}


async def load_fates(settings: CommonSettings) -> dict[str, Fate]:
    """Read the order and plan topics from the start and fold them."""
    records = await read_topics(settings.kafka_bootstrap, [t.value for t in TOPICS])
    return fold(records, settings.max_message_bytes, utcnow())


def find(fates: dict[str, Fate], order_id: str) -> Fate | None:
    """An order by id or unique prefix."""
    if order_id in fates:
        return fates[order_id]
    matches = [f for k, f in fates.items() if k.startswith(order_id)]
    return matches[0] if len(matches) == 1 else None


def related(fates: dict[str, Fate], fate: Fate) -> list[Fate]:
    """The order's parts and the versions that answered it (and theirs), in order."""
    out: list[Fate] = []
    seen = {fate.order_id}
    todo = [*fate.parts, *([fate.answered_by] if fate.answered_by else [])]
    while todo:
        order_id = todo.pop(0)
        other = fates.get(order_id)
        if other is None or order_id in seen:
            continue
        seen.add(order_id)
        out.append(other)
        todo += [*other.parts, *([other.answered_by] if other.answered_by else [])]
    return out
