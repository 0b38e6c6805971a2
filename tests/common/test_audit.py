"""The audit chain: any single modified, removed or reordered entry is detected and named."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.common.audit import ChainHead, append, first_broken_link
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
