"""The encoder judge's head: fitted, stored and read back the same, tied to its model."""

from __future__ import annotations

import json

import numpy as np

from lab.cli.train_judge import LABELS, fit_head
from services.parser.backends import HEADS
from services.parser.judge import EncoderJudge, Head
from services.parser.modelstore import MODELS


def _head(vectors: np.ndarray, labels: np.ndarray) -> Head:
    weights, bias, mean, scale = fit_head(vectors, labels, l2=1.0)
    return Head(
        LABELS,
        tuple(tuple(map(float, row)) for row in weights),
        tuple(map(float, bias)),
        tuple(map(float, mean)),
        tuple(map(float, scale)),
        "0" * 64,
    )


class _Embedder:
    """Vectors by keyword: a stand-in encoder for the head's arithmetic."""

    name = "keywords"

    def embed(self, text: str) -> list[float]:
        return [float("watch" in text), float("hit" in text), float("send" in text)]


def test_a_fitted_head_separates_what_it_was_shown() -> None:
    """Three separable clusters come back with the right label and sure odds."""
    rng = np.random.default_rng(7)
    centres = np.eye(3) * 4
    vectors = np.vstack([centres[i] + rng.normal(0, 0.3, (30, 3)) for i in range(3)])
    labels = np.repeat(np.arange(3), 30)
    head = _head(vectors, labels)
    for i, label in enumerate(LABELS):
        odds = head.probabilities(list(centres[i]))
        assert max(odds, key=lambda k: odds[k]) == label and odds[label] > 0.9


def test_a_head_reads_back_the_same_from_json() -> None:
    """What train-judge writes is what the parser reads."""
    head = _head(np.eye(3).repeat(5, axis=0) * 3, np.repeat(np.arange(3), 5))
    again = Head.from_json(head.to_json())
    assert again == head
    assert again.probabilities([3.0, 0, 0]) == head.probabilities([3.0, 0, 0])


def test_the_encoder_judge_quotes_its_reddest_sentence() -> None:
    """A red whole order is evidenced by the sentence that reads red on its own."""
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]] * 10, dtype=float)
    head = _head(vectors, np.tile(np.arange(3), 10))
    judge = EncoderJudge(_Embedder(), head)
    red = judge("Then watch the gate. Thanks.")
    assert red.label == "surveillance" and red.p_red > 0.5
    assert red.evidence == "Then watch the gate."
    calm = judge("Please send water.")
    assert calm.p_red < 0.5 and calm.evidence == "" and calm.leaning == "clear"


def test_shipped_heads_name_the_weights_they_were_trained_on() -> None:
    """Every head in services/parser/heads belongs to a pinned model's exact SHA-256."""
    heads = sorted(HEADS.glob("*.json"))
    assert heads, "no trained head ships with the parser"
    for path in heads:
        data = json.loads(path.read_text())
        assert data["model_sha256"] == MODELS[path.stem].sha256
        assert len(data["weights"]) == 3 and len(data["weights"][0]) == len(data["mean"])
