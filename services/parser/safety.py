"""Red-line decision from the layers: rules, the model's judgement, and a person when unsure.

Each layer alone can make an order *safer* (refused or held), none can make it less safe than
another layer said: the rules' refusal stands whatever the model says; the model can refuse
only with a sentence of the order as evidence; what neither is sure of waits for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.parser.judge import Judgement
from services.parser.policy import Category, Screen


@dataclass(frozen=True)
class SafetyParams:
    """How a rule's suspicion (a red-line word in a reported event) is settled by the model."""

    # A rule that fired on a reported event: the model's odds above this send it to a person.
    suspect_review_at: float = 0.3


@dataclass(frozen=True)
class Verdict:
    """What the layers decided together, who decided, and the words that show it."""

    outcome: Literal["refused", "review", "clear"]
    category: Category | None
    layer: str
    evidence: tuple[str, ...]
    reasons: tuple[str, ...]


CLEAR = Verdict("clear", None, "", (), ())


def _model_reason(judgement: Judgement) -> str:
    return f"model:{judgement.red_label} p={judgement.p_red:.2f} ({judgement.model})"


def decide(screened: Screen, judgement: Judgement | None, params: SafetyParams) -> Verdict:
    """Combine the rules' screen and the model's judgement into one verdict."""
    if screened.refused is not None:
        agrees = judgement is not None and judgement.leaning != "clear"
        return Verdict(
            "refused",
            screened.refused,
            "rules+model" if agrees else "rules",
            screened.evidence,
            screened.reasons,
        )
    if judgement is None:
        if screened.suspected is None:
            return CLEAR
        # No model to settle a rule that fired on a reported event: a person does.
        return Verdict(
            "review", screened.suspected, "rules", screened.suspect_evidence, ("rules:suspected",)
        )
    quoted = (judgement.evidence,) if judgement.evidence else ()
    if judgement.leaning == "refuse" and quoted:
        return Verdict("refused", judgement.red_label, "model", quoted, (_model_reason(judgement),))
    suspected = screened.suspected is not None and judgement.p_red >= params.suspect_review_at
    if judgement.leaning != "clear" or suspected:
        category = screened.suspected or judgement.red_label
        evidence = tuple(dict.fromkeys(screened.suspect_evidence + quoted))
        layer = "rules+model" if screened.suspected else "model"
        return Verdict("review", category, layer, evidence, (_model_reason(judgement),))
    return CLEAR
