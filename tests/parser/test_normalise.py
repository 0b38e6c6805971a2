"""Text normalisation: what a reader sees is what every layer reads."""

from __future__ import annotations

from services.parser.normalise import normalise
from services.parser.policy import screen


def test_invisible_characters_are_removed() -> None:
    """Zero-width spaces, joiners and soft hyphens inside a word disappear."""
    result = normalise("tr\u200back the wo\u00admen at the w\u2060ell")
    assert result.text == "track the women at the well"
    assert "format_chars" in result.changes


def test_look_alike_letters_fold_to_latin() -> None:
    """Cyrillic and Greek look-alikes in a Latin-script order read as the Latin letters."""
    assert normalise("photogr\u0430ph the \u0440e\u043ep\u04cfe").text == "photograph the people"


def test_text_in_another_script_is_left_alone() -> None:
    """A text written in Cyrillic is not folded letter by letter into Latin nonsense."""
    text = "Привет, нужна вода"
    assert normalise(text).text == text


def test_line_end_hyphenation_is_undone_and_inner_hyphens_join_for_rules() -> None:
    """'sur-\\nveil' joins in the text; 'am-bush' joins only in the rules' copy."""
    result = normalise("set an am-bush and sur-\nveil them")
    assert "surveil them" in result.text and "am-bush" in result.text
    assert "ambush" in result.joined


def test_fullwidth_letters_become_ascii() -> None:
    """NFKC turns fullwidth or styled letters into the plain ones."""
    assert normalise("ａｍｂｕｓｈ").text == "ambush"


def test_spelt_out_letters_join_for_rules() -> None:
    """'k i l l' written letter by letter reads as the word in the rules' copy."""
    assert "kill them" in normalise("k i l l them").joined


def test_obfuscated_red_line_is_still_refused() -> None:
    """An order hiding a red-line word with look-alikes and invisible characters is refused."""
    text = "5 cots to Alma, then tr\u200bа\u0441k the prot\u0435sters with the drone."
    assert screen(text).refused == "surveillance"


def test_hyphenated_red_line_is_still_refused() -> None:
    """A hyphen splitting the word does not hide an ambush."""
    assert screen("Set up an am-bush on the north road tonight.").refused == "use_of_force"


def test_digits_and_ids_survive() -> None:
    """Catalog and place spellings with digits, dots and hyphens are untouched in the text."""
    text = "12 crates of 5.56 to FOB-LIGHTNING, UGR-H&S x 4"
    assert normalise(text).text == text
