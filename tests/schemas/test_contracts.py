"""Contracts: the exported JSON Schemas match the models, topics are named by convention."""

from __future__ import annotations

import re

from schemas.export import drift, rendered
from schemas.topics import CONTRACTS, Topic


def test_exported_json_schemas_match_the_models():
    assert drift(rendered()) == [], "run `make schemas` and commit schemas/json"


def test_every_topic_has_a_contract_and_a_conventional_name():
    assert set(CONTRACTS) == set(Topic)
    for topic in Topic:
        assert re.fullmatch(r"[a-z]+\.[a-z]+\.v\d+", topic.value)
        assert topic.dlq == f"{topic.value}.dlq"


def test_every_contract_carries_the_envelope():
    for model in CONTRACTS.values():
        fields = model.model_fields
        assert {"message_id", "occurred_at", "schema_version"} <= set(fields)
