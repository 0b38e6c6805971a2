"""The model-facing extraction contract."""

from __future__ import annotations

from services.parser.extraction import (
    EXTRACTION_SCHEMA,
    Extraction,
    build_messages,
    is_grounded,
    too_long,
)


def test_schema_has_no_length_limits_for_the_grammar() -> None:
    """maxLength/maxItems are left out of the schema (they slow grammar decoding)."""
    text = str(EXTRACTION_SCHEMA)
    assert "maxLength" not in text and "maxItems" not in text


def test_prefix_is_identical_across_orders() -> None:
    """Only the last message depends on the order, so the prompt prefix caches."""
    first, second = build_messages("order one"), build_messages("order two")
    assert first[:-1] == second[:-1] and first[-1]["content"] == "order one"


def test_grounding_ignores_case_and_spacing_but_not_content() -> None:
    """A phrase is grounded only when it occurs in the text."""
    assert is_grounded("fob  heron", "Send to FOB Heron now")
    assert not is_grounded("FOB Kite", "Send to FOB Heron now")
    assert not is_grounded("", "anything")


def test_over_long_phrases_are_reported() -> None:
    """Length limits are checked after decoding."""
    assert too_long(Extraction(time_phrase="x" * 500)) == ("time_phrase",)
