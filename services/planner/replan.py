"""Re-planning: which earlier plan a new batch supersedes, and whose stops stay locked (pure).

The planner remembers the plans it proposed since it started. A new batch joins the latest one
(the head) while the head is open: not rejected, not expired, not too large. The new plan then
supersedes the head, so the gate refuses further decisions on the head. When a plan in the
head's lineage was already released, its stops are locked: same vehicle, same order. When a
release arrives for a plan the head supersedes but was not locked to (a human approved it while
the revision was being solved), the head is re-planned at once with those locks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.envelope import content_id
from schemas.orders import OrderParsed
from schemas.plans import PlanProposed, superseded_plans
from services.planner.locks import Lock, locks_from
from services.planner.verify import lock_violations


@dataclass(frozen=True)
class Proposed:
    """A plan this planner proposed, the orders it was built from, and the release it keeps."""

    plan: PlanProposed
    orders: tuple[OrderParsed, ...]
    locked_to: str | None = None


@dataclass(frozen=True)
class Basis:
    """What a re-plan starts from: the plan it supersedes, its orders, the stops to keep."""

    supersedes: str
    orders: tuple[OrderParsed, ...]
    locked_to: str | None
    locks: tuple[Lock, ...]


@dataclass(frozen=True)
class Disruption:
    """A revision forced by the theater: the basis to solve, and the released plan whose stops
    on the lost vehicles move (None when only an open plan used them)."""

    basis: Basis
    released: str | None
    vehicles: tuple[str, ...]
    moved: tuple[str, ...]


@dataclass
class Lineage:
    """The planner's memory of its own plans and what the gate did to them."""

    max_orders: int = 100
    plans: dict[str, Proposed] = field(default_factory=dict)
    head: str | None = None
    released: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    # (released plan, vehicle) whose stops are no longer locked: the vehicle went down, or a
    # closed area cut its route, so a revision may move them.
    freed: set[tuple[str, str]] = field(default_factory=set)

    def record(self, proposed: Proposed) -> None:
        """A plan was published: it becomes the head; plans outside its lineage are forgotten."""
        self.plans[proposed.plan.plan_id] = proposed
        self.head = proposed.plan.plan_id
        keep = {self.head, *self._lineage(proposed)}
        for plan_id in [p for p in self.plans if p not in keep]:
            del self.plans[plan_id]

    def restore(
        self,
        proposals: Sequence[PlanProposed],
        released: Iterable[str],
        orders: Mapping[str, OrderParsed],
        rejected: Iterable[str] = (),
    ) -> None:
        """Rebuild after a restart from what the topics hold: plans, releases, rejections,
        parsed orders.

        The head is the newest plan nothing supersedes; it counts as locked to the nearest
        released plan of its lineage whose stops it already keeps, so replaying that release
        does not re-plan it again. A rejected head is known as such before the gate's outcomes
        are replayed, so a replayed release never re-plans it.
        """
        self.released.update(released)
        self.rejected.update(rejected)
        superseded = {p.supersedes for p in proposals if p.supersedes is not None}
        known: dict[str, Proposed] = {}
        for plan in proposals:
            mine = tuple(orders[o] for o in plan.order_ids if o in orders)
            if len(mine) == len(plan.order_ids):  # else its orders aged out: no re-plan of it
                known[plan.plan_id] = Proposed(plan, mine)
        heads = [p for p in known.values() if p.plan.plan_id not in superseded]
        if not heads:
            return
        self.plans = known
        head = max(heads, key=lambda p: p.plan.occurred_at)
        anchor = self._anchor(head)
        if anchor is not None and not lock_violations(head.plan, locks_from(known[anchor].plan)):
            head = Proposed(head.plan, head.orders, anchor)
        self.record(head)

    def basis(self, new_orders: int, now: datetime) -> Basis | None:
        """What the next batch supersedes, or None for a fresh plan."""
        head = self.plans.get(self.head or "")
        if head is None or head.plan.plan_id in self.rejected or head.plan.expires_at <= now:
            return None
        if len(head.orders) + new_orders > self.max_orders:
            return None
        return self._basis(head)

    def on_released(self, plan_id: str) -> Basis | None:
        """A plan was released; return a re-plan basis if the head must now keep its stops."""
        self.released.add(plan_id)
        head = self.plans.get(self.head or "")
        if head is None or head.plan.plan_id in self.released or head.plan.plan_id in self.rejected:
            return None
        anchor = self._anchor(head)
        if anchor is None or anchor == head.locked_to:
            return None
        return self._basis(head)

    def on_outcome(self, kind: str, plan_id: str) -> Basis | None:
        """The gate's outcome for one of our plans (an audit entry's kind): a rejection closes
        it; a release may mean the head must be re-planned with its stops locked (the basis)."""
        if plan_id not in self.plans:
            return None
        if kind == "plan_rejected":
            self.on_rejected(plan_id)
        elif kind == "plan_released":
            return self.on_released(plan_id)
        return None

    def disrupt(self, vehicles: set[str], now: datetime) -> Disruption | None:
        """Vehicles that can no longer drive what they were given: the revision to propose.

        The open head is revised when it uses one of them; the nearest released plan's stops
        on them are unlocked (the others stay locked), and if the head is closed, that
        released plan itself is revised. None when no plan of ours uses them.
        """
        head = self.plans.get(self.head or "")
        if head is None:
            return None
        head_id = head.plan.plan_id
        anchor = head_id if head_id in self.released else self._anchor(head)
        is_open = (
            head_id not in self.released
            and head_id not in self.rejected
            and head.plan.expires_at > now
        )
        moved = stops_on(self.plans[anchor].plan, vehicles) if anchor in self.plans else ()
        uses = is_open and bool(vehicles & {r.vehicle_id for r in head.plan.routes})
        if not moved and not uses:
            return None
        base = head if is_open or anchor is None else self.plans[anchor]
        if anchor is not None:
            self.freed.update((anchor, v) for v in vehicles)
        if moved and anchor in self.plans:  # name only the vehicles whose released stops move
            vehicles = {r.vehicle_id for r in self.plans[anchor].plan.routes} & vehicles
        return Disruption(
            self._basis(base), anchor if moved else None, tuple(sorted(vehicles)), moved
        )

    def live(self, now: datetime) -> tuple[PlanProposed, ...]:
        """The plans that routes may still follow: the open or released head, and the released
        plan it keeps."""
        head = self.plans.get(self.head or "")
        if head is None:
            return ()
        head_id = head.plan.plan_id
        anchor = head_id if head_id in self.released else self._anchor(head)
        found = [self.plans[anchor].plan] if anchor in self.plans else []
        is_open = head_id not in self.rejected and head.plan.expires_at > now
        if head_id != anchor and is_open:
            found.append(head.plan)
        return tuple(found)

    def on_rejected(self, plan_id: str) -> None:
        """A plan was rejected: it is never superseded (its orders are not proposed again)."""
        self.rejected.add(plan_id)

    def _lineage(self, proposed: Proposed) -> list[str]:
        """The plan ids the head replaces, newest first."""
        return superseded_plans(proposed.plan, {pid: p.plan for pid, p in self.plans.items()})

    def _anchor(self, proposed: Proposed) -> str | None:
        """The nearest released plan this plan replaces, if any."""
        return next((pid for pid in self._lineage(proposed) if pid in self.released), None)

    def _basis(self, head: Proposed) -> Basis:
        chain = [head.plan.plan_id, *self._lineage(head)]
        anchor = next((pid for pid in chain if pid in self.released), None)
        locks = locks_from(self.plans[anchor].plan) if anchor in self.plans else ()
        kept = tuple(lk for lk in locks if (anchor, lk.vehicle_id) not in self.freed)
        return Basis(head.plan.plan_id, head.orders, anchor, kept)


def stops_on(plan: PlanProposed, vehicles: set[str]) -> tuple[str, ...]:
    """The order ids a plan gives these vehicles, in route order."""
    routes = sorted(plan.routes, key=lambda r: (r.vehicle_id, r.start))
    return tuple(s.order_id for r in routes if r.vehicle_id in vehicles for s in r.stops)


def combine(earlier: Sequence[OrderParsed], new: Sequence[OrderParsed]) -> list[OrderParsed]:
    """The earlier plan's orders then the new ones, each order once."""
    seen: set[str] = set()
    combined = []
    for order in [*earlier, *new]:
        if order.order_id not in seen:
            seen.add(order.order_id)
            combined.append(order)
    return combined


def superseding(plan: PlanProposed, earlier: str) -> PlanProposed:
    """The plan marked as superseding `earlier`, with its own id and hash."""
    draft = plan.model_copy(
        update={"supersedes": earlier, "plan_id": content_id("plan", plan.plan_id, earlier)}
    )
    digest = draft.computed_hash()
    final = draft.model_copy(
        update={"plan_hash": digest, "message_id": content_id("msg", draft.plan_id, digest)}
    )
    return PlanProposed.model_validate(final.model_dump())
