"""Counts of goods the rules did not read, and the model lines that may answer for them."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

from services.common.scenario import Scenario
from services.parser.coverage import counts, unread
from services.parser.extraction import Extraction, ItemPhrase
from services.parser.interpret import UNREAD_FLAG, Accepted, Clarify, interpret
from services.parser.llm import ScriptedBackend
from services.parser.pipeline import understand

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def _values(text: str) -> list[Fraction]:
    return [value for value, _, _ in counts(text)]


def test_counts_of_goods_are_found_and_times_dates_sizes_and_ranks_are_not() -> None:
    assert _values("need 200 couvertures et 80 bâches, 2k gal diesel, 30cs mre") == [
        200,
        80,
        2000,
        30,
    ]
    assert _values("by 1400Z on 15 Dec 2026, within 12 hours, 3 days later") == []
    assert _values("12 crates of 5.56 and 4 boxes of 20L jerrycans, 2LT Okafor, 58th Engr") == [
        12,
        4,
    ]
    assert _values("Priority: 3 Ticket #HX-2240 Line 2: 8 boxes") == [8]


def test_a_count_is_read_when_a_line_was_taken_from_it() -> None:
    text = "need 200 blankets and 80 tarps"
    assert unread(text, ["200 blankets"]) == [Fraction(80)]
    assert unread(text, ["200 blankets", "80 tarps"]) == []
    # The same figure twice is two counts: one read line accounts for one of them.
    assert unread("60 kits and 60 parcels", ["60 kits"]) == [Fraction(60)]


def test_an_accepted_order_with_an_unread_count_says_so(tiny: Scenario) -> None:
    result = interpret("12 cs MRE and 40 jerry cans to FOB Heron NLT 1400Z", NOW, tiny, None)
    assert isinstance(result, Accepted) and result.lines == (("RATION-CASE", 12, "case"),)
    assert f"{UNREAD_FLAG}40" in result.flags


def test_the_model_may_name_an_item_for_an_unread_count_but_not_invent_a_figure(
    tiny: Scenario,
) -> None:
    text = "12 cs MRE and 3 camp beds to FOB Heron NLT 1400Z"
    grounded = Extraction(
        items=[
            ItemPhrase(item_phrase="MRE", quantity_phrase="12", unit_phrase="cs"),
            ItemPhrase(item_phrase="camp beds", quantity_phrase="3"),
        ]
    )
    # "camp beds" is not a catalog name: the model's phrase resolves nothing, nothing is added.
    assert interpret(text, NOW, tiny, grounded).lines == (("RATION-CASE", 12, "case"),)  # type: ignore[union-attr]
    text = "12 cs MRE et 3 lits pliants / folding cots to FOB Heron NLT 1400Z"
    alone = interpret(text, NOW, tiny, None)
    assert isinstance(alone, Accepted) and f"{UNREAD_FLAG}3" in alone.flags
    named = Extraction(
        items=[ItemPhrase(item_phrase="folding cots", quantity_phrase="3", unit_phrase="lits")]
    )
    result = interpret(text, NOW, tiny, named)
    assert isinstance(result, Accepted)
    assert result.lines == (("RATION-CASE", 12, "case"), ("COT", 3, "each"))
    assert "model_line:COT" in result.flags and not any(
        f.startswith(UNREAD_FLAG) for f in result.flags
    )
    # A figure the writer never gave as a count of them is not taken from the model.
    invented = Extraction(items=[ItemPhrase(item_phrase="folding cots", quantity_phrase="12")])
    kept = interpret(text, NOW, tiny, invented)
    assert isinstance(kept, Accepted) and kept.lines == (("RATION-CASE", 12, "case"),)


def test_model_lines_answer_a_question_only_when_no_count_is_left(tiny: Scenario) -> None:
    text = "send 40 jerry cans and 12 boxes of spares to FOB Heron"
    assert isinstance(interpret(text, NOW, tiny, None), Clarify)
    partial = Extraction(items=[ItemPhrase(item_phrase="jerry cans", quantity_phrase="40")])
    assert isinstance(interpret(text, NOW, tiny, partial), Clarify)


def test_only_the_unread_policy_sends_an_accepted_order_with_an_unread_count_to_the_model(
    tiny: Scenario,
) -> None:
    reply = Extraction(
        items=[ItemPhrase(item_phrase="folding cots", quantity_phrase="3", unit_phrase="lits")]
    ).model_dump_json()
    text = "12 cs MRE et 3 lits pliants / folding cots to FOB Heron NLT 1400Z"
    lean, careful = ScriptedBackend([reply]), ScriptedBackend([reply])
    kept = understand(text, NOW, tiny, lean, "fallback").outcome
    read = understand(text, NOW, tiny, careful, "unread").outcome
    assert lean.calls == 0 and careful.calls == 1
    assert isinstance(kept, Accepted) and ("COT", 3, "each") not in kept.lines
    assert isinstance(read, Accepted) and ("COT", 3, "each") in read.lines
    clear = "12 cs MRE to FOB Heron NLT 1400Z"
    understand(clear, NOW, tiny, careful, "unread")
    assert careful.calls == 1  # nothing unread: the rules' reading stands
