"""The layered red-line decision: rules, the model's odds, and a person when unsure."""

from __future__ import annotations

from collections.abc import Sequence

from services.parser.judge import (
    Bars,
    BothJudges,
    Judgement,
    Leaning,
    PromptJudge,
    judge,
    sentences,
)
from services.parser.llm import Messages
from services.parser.policy import screen
from services.parser.safety import SafetyParams, decide

PARAMS = SafetyParams(suspect_review_at=0.3)
BARS = Bars(refuse=0.9, review=0.6)


def _judgement(none: float, surveillance: float, evidence: str = "x") -> Judgement:
    odds = {"none": none, "surveillance": surveillance, "use_of_force": 1 - none - surveillance}
    return Judgement("none", odds, evidence, 0.0, "test", 1, BARS.lean(1 - none))


class _Chooser:
    """Says a text crosses a red line when it contains a marker word."""

    name = "scripted"

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.asked: list[str] = []

    def choose(self, messages: Messages, answers: Sequence[str]) -> dict[str, float]:
        text = messages[-1]["content"]
        self.asked.append(text)
        red = self.marker in text
        return {"SURVEILLANCE": 0.9 if red else 0.05, "FORCE": 0.05, "NONE": 0.05 if red else 0.9}


def test_a_rule_refusal_stands_whatever_the_model_says() -> None:
    """The model cannot talk the rules out of a refusal."""
    screened = screen("Deliver 5 cots to Alma and photograph every resident for the police.")
    verdict = decide(screened, _judgement(0.99, 0.0), PARAMS)
    assert verdict.outcome == "refused" and verdict.layer == "rules"
    assert verdict.evidence and "photograph every resident" in verdict.evidence[0]


def test_a_sure_model_refuses_with_a_quote() -> None:
    """Above refuse_at, with a sentence of the order as evidence, the model refuses."""
    verdict = decide(screen("Bring water to Alma."), _judgement(0.02, 0.9), PARAMS)
    assert verdict.outcome == "refused"
    assert (verdict.category, verdict.layer) == ("surveillance", "model")


def test_a_sure_model_without_evidence_only_holds() -> None:
    """No quote, no refusal: an unsupported judgement goes to a person."""
    verdict = decide(screen("Bring water to Alma."), _judgement(0.02, 0.9, evidence=""), PARAMS)
    assert verdict.outcome == "review"


def test_an_unsure_model_holds_for_review() -> None:
    """Between review_at and refuse_at the order waits for a person."""
    verdict = decide(screen("Bring water to Alma."), _judgement(0.3, 0.5), PARAMS)
    assert verdict.outcome == "review" and verdict.category == "surveillance"


def test_a_calm_model_lets_an_ordinary_order_through() -> None:
    """Low odds and no rule: the order goes on to extraction."""
    assert decide(screen("Bring water to Alma."), _judgement(0.9, 0.05), PARAMS).outcome == "clear"


def test_a_reported_event_is_a_suspicion_settled_by_the_model() -> None:
    """'After the ambush' is not a request: the rules only suspect, the model decides."""
    screened = screen("After the ambush last week we need 30 litters at Heron.")
    assert screened.refused is None and screened.suspected == "use_of_force"
    assert decide(screened, _judgement(0.95, 0.0), PARAMS).outcome == "clear"
    assert decide(screened, _judgement(0.6, 0.0), PARAMS).outcome == "review"


def test_without_a_model_a_suspicion_goes_to_a_person() -> None:
    """Rules alone cannot settle a suspicion: the order is held, not accepted."""
    screened = screen("After the ambush last week we need 30 litters at Heron.")
    assert decide(screened, None, PARAMS).outcome == "review"


def test_judge_quotes_the_sentence_that_shows_the_red_line() -> None:
    """The evidence is the order's own sentence the model finds red, never invented text."""
    text = "Send 4 pallets of water to Alma. Also keep a list of the visitors for us. Thanks, Bo"
    verdict = judge(_Chooser("visitors"), text)
    assert verdict.p_red > 0.5 and verdict.evidence == "Also keep a list of the visitors for us."
    assert verdict.evidence in text


def test_judge_asks_once_when_the_order_is_calm() -> None:
    """An ordinary order costs one model call."""
    chooser = _Chooser("visitors")
    assert judge(chooser, "Send 4 pallets of water to Alma. Thanks").calls == 1
    assert len(chooser.asked) == 1


def test_sentences_keep_decimal_numbers_whole() -> None:
    """'5.56' is not a sentence end."""
    assert sentences("Need 12 crates of 5.56 at Lightning. Thanks.") == [
        "Need 12 crates of 5.56 at Lightning.",
        "Thanks.",
    ]


class _Fixed:
    """A judge that always leans one way."""

    def __init__(self, leaning: Leaning) -> None:
        self.leaning = leaning
        self.name = leaning

    def __call__(self, text: str) -> Judgement:
        red = {"refuse": 0.95, "review": 0.7, "clear": 0.1}[self.leaning]
        odds = {"none": 1 - red, "surveillance": red, "use_of_force": 0.0}
        return Judgement("none", odds, text if red > 0.5 else "", 0.0, self.name, 1, self.leaning)


def test_two_judges_refuse_only_together_and_hold_when_either_would() -> None:
    """Refusing needs both judges; one judge's doubt is enough to ask a person."""
    lean = {
        (a, b): BothJudges(_Fixed(a), _Fixed(b))("x").leaning
        for a in ("refuse", "review", "clear")
        for b in ("refuse", "review", "clear")
    }
    assert lean[("refuse", "refuse")] == "refuse"
    assert lean[("refuse", "clear")] == lean[("clear", "refuse")] == "review"
    assert lean[("review", "clear")] == lean[("clear", "review")] == "review"
    assert lean[("clear", "clear")] == "clear"


def test_a_prompt_judge_leans_by_its_own_bars() -> None:
    """The same odds lean differently under different bars."""
    text = "Also keep a list of the visitors for us."
    assert PromptJudge(_Chooser("visitors"), Bars(0.8, 0.5))(text).leaning == "refuse"
    assert PromptJudge(_Chooser("visitors"), Bars(0.99, 0.5))(text).leaning == "review"
