"""The audit chain: any single modified, removed or reordered entry is detected and named."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.common.audit import (
    ChainHead,
    Witnesses,
    append,
    first_broken_link,
    first_missing_entry,
)
from tests.factories import NOW


def _chain(n: int = 6):
    head = ChainHead()
    return [
        append(
            head,
            "decision_refused",
            f"plan-{i}",
            NOW + timedelta(seconds=i),
            reason="bad_signature",
            decision_id=f"dec-{i}",
        )
        for i in range(n)
    ]


def test_an_intact_chain_verifies():
    assert first_broken_link(_chain()) is None
    assert first_broken_link([]) is None


@pytest.mark.parametrize("position", range(6))
def test_any_modified_entry_is_named(position):
    chain = _chain()
    chain[position] = chain[position].model_copy(update={"reason": "ok"})
    assert first_broken_link(chain) == (
        f"entry {position} was modified: its content does not match its hash"
    )


@pytest.mark.parametrize("position", range(6))
def test_any_removed_entry_is_detected(position):
    chain = _chain()
    del chain[position]
    broken = first_broken_link(chain)
    if position == 5:
        assert broken is None  # removing the head is only visible against a known head
    else:
        assert broken is not None and f"entry {position} " in broken


@pytest.mark.parametrize("position", range(5))
def test_any_swapped_pair_is_detected(position):
    chain = _chain()
    chain[position], chain[position + 1] = chain[position + 1], chain[position]
    broken = first_broken_link(chain)
    assert broken is not None and f"entry {position} " in broken


def test_a_rehashed_forgery_still_breaks_the_next_link():
    chain = _chain()
    forged = chain[2].model_copy(update={"reason": "ok"})
    chain[2] = forged.model_copy(update={"entry_hash": forged.computed_hash()})
    assert first_broken_link(chain) == "entry 3 does not point at entry 2: chain broken"


def _witnesses(chain, released=()):
    return Witnesses(frozenset(e.source for e in chain), frozenset(released))


def _sourced_chain(n: int = 4):
    head = ChainHead()
    return [
        append(
            head,
            "plan_released" if i == n - 1 else "decision_refused",
            f"plan-{i}",
            NOW + timedelta(seconds=i),
            decision_id=f"dec-{i}",
            source=f"plans.decided.v1/0/{i}",
        )
        for i in range(n)
    ]


def test_cutting_the_last_entry_is_caught_by_the_decision_topic_witness():
    chain = _sourced_chain()
    witnesses = _witnesses(chain, released=("plan-3",))
    assert first_missing_entry(chain, witnesses) is None
    cut = chain[:-1]
    assert first_broken_link(cut) is None  # the chain alone cannot tell
    missing = first_missing_entry(cut, witnesses)
    assert missing is not None and "plans.decided.v1/0/3" in missing
    only_release = _witnesses(cut, released=("plan-3",))
    assert "plan plan-3 was released" in (first_missing_entry(cut, only_release) or "")
