"""Quotes located back in the text the requester wrote, whatever normalisation did to it."""

from services.parser.spans import find_span, spans_of


def test_a_phrase_is_found_where_it_was_written():
    text = "need 40 pallets of water at FOB Lightning NLT 0600Z"
    start, end = find_span(text, "FOB Lightning")  # type: ignore[misc]
    assert text[start:end] == "FOB Lightning"


def test_case_and_runs_of_spaces_do_not_hide_a_phrase():
    text = "Need 40  pallets\nof water at fob   LIGHTNING"
    span = find_span(text, "FOB Lightning")
    assert span is not None and text[span[0] : span[1]] == "fob   LIGHTNING"


def test_offsets_count_the_original_characters_around_invisible_and_lookalike_ones():
    # A zero-width space inside the word and a Cyrillic "о": the layers read "FOB Lightning".
    text = "12 crates at F\u043eB Ligh\u200btning please"
    span = find_span(text, "FOB Lightning")
    assert span == (13, 27)
    assert text[span[0] : span[1]] == "F\u043eB Ligh\u200btning"


def test_fullwidth_text_maps_back_to_its_own_characters():
    text = "water to ＦＯＢ Halcyon"
    span = find_span(text, "FOB Halcyon")
    assert span is not None and text[span[0] : span[1]] == "ＦＯＢ Halcyon"


def test_the_last_occurrence_is_the_one_a_correction_leaves_standing():
    text = "send 20 pallets of water, correction: 30 pallets of water"
    span = find_span(text, "pallets of water")
    assert span is not None and span[0] == text.rindex("pallets of water")


def test_words_that_are_not_in_the_text_have_no_span():
    assert find_span("need water at FOB Halcyon", "Solane village") is None
    assert find_span("need water", "   ") is None


def test_spans_are_in_text_order_and_each_once():
    text = "2 cases of MRE and 4 pallets of water"
    spans = spans_of(text, ["4 pallets of water", "2 cases of MRE", "2 cases of MRE", "absent"])
    assert spans == ((0, 14), (19, 37))


def test_a_short_joining_word_the_quote_leaves_out_is_spanned_over():
    text = "REQ 4 pallets of bottled water to FOB Halcyon"
    span = find_span(text, "4 pallets bottled water")
    assert span is not None and text[span[0] : span[1]] == "4 pallets of bottled water"
    assert find_span("4 pallets of clean bottled water", "4 pallets bottled water") is None
