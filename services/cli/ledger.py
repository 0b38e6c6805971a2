"""The plan ledger as the CLI sees it: proposals, decisions and releases read from Kafka."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.orders import OrderParsed
from schemas.plans import Decision, PlanDecided, PlanProposed, PlanReleased
from schemas.topics import Topic
from services.common.codec import DecodeError, decode
from services.common.kafka import read_topics
from services.common.settings import CommonSettings


@dataclass
class PlanView:
    """One plan with what humans and the gate did to it."""

    plan: PlanProposed
    decisions: list[PlanDecided] = field(default_factory=list)
    release: PlanReleased | None = None
    superseded_by: str | None = None

    @property
    def approvers(self) -> list[str]:
        """Distinct operators who signed an approval."""
        return sorted({d.operator_id for d in self.decisions if d.decision is Decision.APPROVE})

    @property
    def status(self) -> str:
        """released, rejected, superseded (by a later plan before release), or pending."""
        if self.release is not None:
            return "released"
        if any(d.decision is Decision.REJECT for d in self.decisions):
            return "rejected"
        if self.superseded_by is not None:
            return "superseded"
        return "pending"


async def load_ledger(settings: CommonSettings) -> dict[str, PlanView]:
    """Read the three plan topics from the start and join them by plan id."""
    topics = [Topic.PLANS_PROPOSED.value, Topic.PLANS_DECIDED.value, Topic.PLANS_RELEASED.value]
    views: dict[str, PlanView] = {}
    limit = settings.max_message_bytes
    for record in await read_topics(settings.kafka_bootstrap, topics):
        try:
            if record.topic == Topic.PLANS_PROPOSED.value:
                plan = decode(PlanProposed, record.value, limit)
                views.setdefault(plan.plan_id, PlanView(plan))
            elif record.topic == Topic.PLANS_DECIDED.value:
                decision = decode(PlanDecided, record.value, limit)
                if decision.plan_id in views:
                    views[decision.plan_id].decisions.append(decision)
            else:
                release = decode(PlanReleased, record.value, limit)
                if release.plan_id in views:
                    views[release.plan_id].release = release
        except DecodeError:
            continue  # malformed records are the services' dead letters, not the CLI's concern
    for view in views.values():
        older = views.get(view.plan.supersedes or "")
        if older is not None and older.superseded_by is None:
            older.superseded_by = view.plan.plan_id
    return views


async def load_orders(settings: CommonSettings) -> dict[str, OrderParsed]:
    """The parsed orders by order id, so an approver reads the words behind each stop."""
    orders: dict[str, OrderParsed] = {}
    limit = settings.max_message_bytes
    for record in await read_topics(settings.kafka_bootstrap, [Topic.ORDERS_PARSED.value]):
        try:
            order = decode(OrderParsed, record.value, limit)
        except DecodeError:
            continue  # the parser's dead letters, as above
        orders[order.order_id] = order  # a replay repeats an order under its id: the latest wins
    return orders


def find(views: dict[str, PlanView], plan_id: str) -> PlanView | None:
    """A plan by full id or unique prefix."""
    if plan_id in views:
        return views[plan_id]
    matches = [v for key, v in views.items() if key.startswith(plan_id)]
    return matches[0] if len(matches) == 1 else None
