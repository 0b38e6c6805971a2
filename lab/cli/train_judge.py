"""`qm eval train-judge`: fit the encoder judge's head on labelled red-line texts.

The head is a three-way softmax regression over the embedded model's mean-pooled vectors,
fitted with L2 in numpy: one small linear layer, which scikit-learn would fit the same way
for a 40 MB dependency. The texts (`tests/eval/redline-train.jsonl`) were written for this by
an author who never saw the evaluation corpora; the corpora only ever score the result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import Progress

from services.cli.context import console, fail
from services.parser.backends import HEADS
from services.parser.judge import Head
from services.parser.llm import LLMError
from services.parser.modelstore import MODELS, fetch
from services.parser.normalise import normalise

LABELS = ("surveillance", "use_of_force", "none")
EVAL_DIR = Path(__file__).resolve().parents[2] / "tests" / "eval"
# Short red-line and lawful sentences, then whole orders in many styles (both written by authors
# who never saw the evaluation corpora).
TRAIN = (EVAL_DIR / "redline-train.jsonl", EVAL_DIR / "redline-train-orders.jsonl")


def fit_head(
    vectors: np.ndarray, labels: np.ndarray, l2: float, steps: int = 600, rate: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(weights, bias, mean, scale) of an L2-regularised softmax regression, full-batch."""
    mean, scale = vectors.mean(0), vectors.std(0) + 1e-6
    x = (vectors - mean) / scale
    n, d = x.shape
    weights, bias = np.zeros((len(LABELS), d)), np.zeros(len(LABELS))
    target = np.eye(len(LABELS))[labels]
    for _ in range(steps):
        logits = x @ weights.T + bias
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        grad = (p - target) / n
        weights -= rate * (grad.T @ x + l2 * weights / n)
        bias -= rate * grad.sum(0)
    return weights, bias, mean, scale


def train_judge(
    model: Annotated[str, typer.Option(help=f"Model store name: {', '.join(MODELS)}.")] = (
        "qwen2.5-coder-0.5b"
    ),
    data: Annotated[
        list[Path] | None,
        typer.Option(help="Labelled texts, one {text, label} per line (repeatable)."),
    ] = None,
    l2: Annotated[float, typer.Option(help="L2 strength (measured: README, Red lines).")] = 10.0,
    threads: Annotated[int, typer.Option(help="llama.cpp threads.")] = 1,
) -> None:
    """Embed the texts with the model, fit the head, write services/parser/heads/MODEL.json."""
    from services.parser.llm_llama import LlamaEmbedder

    if model not in MODELS:
        fail(f"unknown model {model!r}; choose one of {sorted(MODELS)}")
    files = data or [path for path in TRAIN if path.exists()]
    rows = [
        json.loads(line)
        for path in files
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]
    try:
        embedder = LlamaEmbedder(fetch(model), threads)
    except LLMError as err:
        fail(str(err))
    vectors = []
    with Progress(console=console) as progress:
        task = progress.add_task(f"embedding {len(rows)} texts", total=len(rows))
        for row in rows:
            vectors.append(embedder.embed(normalise(row["text"]).text))
            progress.advance(task)
    labels = np.array([LABELS.index(row["label"]) for row in rows])
    weights, bias, mean, scale = fit_head(np.array(vectors), labels, l2)
    head = Head(
        labels=LABELS,
        weights=tuple(tuple(round(float(w), 6) for w in row) for row in weights),
        bias=tuple(round(float(b), 6) for b in bias),
        mean=tuple(round(float(m), 6) for m in mean),
        scale=tuple(round(float(s), 6) for s in scale),
        model_sha256=MODELS[model].sha256,
        trained_on=f"{' + '.join(p.name for p in files)} ({len(rows)} texts, l2={l2})",
    )
    HEADS.mkdir(exist_ok=True)
    out = HEADS / f"{model}.json"
    out.write_text(head.to_json() + "\n", encoding="utf-8")
    console.print(f"head written to {out} (trained on {head.trained_on})")
