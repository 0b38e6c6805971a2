"""The replay load-test backend answers from labelled data with phrases the parser can ground."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from lab.parser.replay import ReplayBackend
from services.common.scenario import load_scenario
from services.parser.extraction import EXTRACTION_SCHEMA, Extraction, build_messages, is_grounded
from services.parser.interpret import Accepted, interpret
from services.parser.policy import screen
from tests.paths import EVAL_DIR


@pytest.fixture(scope="module")
def backend() -> ReplayBackend:
    return ReplayBackend(EVAL_DIR)


def _records() -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for file in sorted(EVAL_DIR.glob("*.jsonl"))
        for line in file.read_text().splitlines()
        if line.strip()
    ]


def _phrases(extraction: Extraction) -> list[str]:
    fields = [extraction.destination_phrase, extraction.priority_phrase]
    fields += [extraction.requester_phrase, extraction.time_phrase]
    for item in extraction.items:
        fields += [item.item_phrase, item.quantity_phrase, item.unit_phrase]
    return [phrase for phrase in fields if phrase]


def test_it_loads_every_labelled_record_of_the_corpus_directory(backend: ReplayBackend) -> None:
    assert len(backend) == len({r["text"] for r in _records()})


def test_every_phrase_it_answers_occurs_in_the_order_text(backend: ReplayBackend) -> None:
    for record in _records():
        for phrase in _phrases(backend.extraction(record["text"])):
            assert is_grounded(phrase, record["text"]), (record["id"], phrase)


def test_accepted_records_get_a_destination_and_most_expected_lines_as_items(
    backend: ReplayBackend,
) -> None:
    accepted = [r for r in _records() if r["expect"]["outcome"] == "accepted"]
    expected = found = destinations = 0
    for record in accepted:
        extraction = backend.extraction(record["text"])
        destinations += bool(extraction.destination_phrase)
        expected += len(record["expect"]["lines"])
        found += len(extraction.items)
        assert len(extraction.items) <= len(record["expect"]["lines"]), record["id"]
    # Names written only as misspellings of their aliases get no phrase (as from a model).
    assert destinations >= 0.9 * len(accepted)
    assert found >= 0.9 * expected


def test_refused_records_are_answered_with_a_refusal_and_its_category(
    backend: ReplayBackend,
) -> None:
    for record in (r for r in _records() if r["expect"]["outcome"] == "refused"):
        extraction = backend.extraction(record["text"])
        assert extraction.refuse and extraction.refuse_category == record["expect"]["category"]


def test_an_unknown_text_gets_an_empty_extraction(backend: ReplayBackend) -> None:
    assert backend.extraction("Send 3 pallets of moon rocks to Atlantis.") == Extraction()


def test_complete_answers_valid_extraction_json_for_the_last_user_message(
    backend: ReplayBackend,
) -> None:
    record = _records()[0]
    completion = backend.complete(build_messages(record["text"]), EXTRACTION_SCHEMA)
    assert Extraction.model_validate_json(completion.text) == backend.extraction(record["text"])
    assert backend.name == "replay"


def test_its_phrases_raise_no_grounding_flags_when_the_parser_interprets_them(
    backend: ReplayBackend,
) -> None:
    scenario = load_scenario(EVAL_DIR / "scenario.yaml").scenario
    for record in (r for r in _records() if r["expect"]["outcome"] == "accepted"):
        at = datetime.fromisoformat(record["submitted_at"].replace("Z", "+00:00"))
        # The pipeline shows the model the text with injected segments removed.
        extraction = backend.extraction(screen(record["text"]).clean_text)
        outcome = interpret(record["text"], at, scenario, extraction)
        assert isinstance(outcome, Accepted), record["id"]
        assert outcome.destination == record["expect"]["destination"], record["id"]
        assert not [f for f in outcome.flags if f.startswith(("ungrounded", "model_disagrees"))]
