"""The chaos oracle's duplicate count: revisions may carry orders on, unrelated plans may not."""

from __future__ import annotations

from lab.cli.chaos import duplicate_proposals
from tests import factories as f


def test_orders_carried_into_revisions_are_not_duplicates_but_unrelated_plans_are():
    first = f.routed_plan({"TRK-1": ("a", "b")}, tag="1")
    second = f.routed_plan({"TRK-1": ("a", "b", "c")}, supersedes=first.plan_id, tag="2")
    third = f.routed_plan({"TRK-1": ("a", "b", "c", "d")}, supersedes=second.plan_id, tag="3")
    chain = {p.plan_id: p for p in (first, second, third)}
    ids = {"a", "b", "c", "d"}
    assert duplicate_proposals(chain, ids) == 0
    replayed = f.routed_plan({"TRK-2": ("b", "c")}, tag="again")  # a restart re-planned b and c
    assert duplicate_proposals({**chain, replayed.plan_id: replayed}, ids) == 2
    assert duplicate_proposals({**chain, replayed.plan_id: replayed}, {"a", "d"}) == 0
