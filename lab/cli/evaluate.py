"""`qm eval …`: measure the parser on a labelled corpus (format of ../shared/eval)."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from lab.cli.train_judge import train_judge
from lab.parser.evaluate import FIELDS, OUTCOMES, Record, load_orders, score, to_record
from services.cli.context import console, fail
from services.common.scenario import ScenarioError, load_scenario
from services.parser.backends import build_backend, build_judge, safety_params
from services.parser.judge import RedLineJudge
from services.parser.llm import LLMBackend, LLMError
from services.parser.pipeline import ModelPolicy, understand
from services.parser.safety import SafetyParams
from services.parser.settings import ParserSettings

app = typer.Typer(help="Evaluate the parser on a labelled corpus.", no_args_is_help=True)


@dataclass(frozen=True)
class Contender:
    """One parser configuration under test."""

    label: str
    backend: LLMBackend | None
    policy: ModelPolicy
    judge: RedLineJudge | None = None
    safety: SafetyParams | None = None


_SPEC_HELP = (
    "rules | llama:MODEL[@fallback|@unread] | openai:MODEL@URL[@fallback|@unread], each "
    "optionally with "
    "@judge=prompt:MODEL | @judge=encoder:MODEL | @judge=off (default: the parser's settings)"
)


def _contender(spec: str, threads: int) -> Contender:
    """A backend spec (see _SPEC_HELP) -> the parser configuration it names."""
    parts = spec.split("@")
    policy: ModelPolicy = next((p for p in ("fallback", "unread") if p in parts), "always")
    judged = [p.removeprefix("judge=") for p in parts if p.startswith("judge=")]
    parts = [p for p in parts if p not in ("fallback", "unread") and not p.startswith("judge=")]
    kind, _, model = parts[0].partition(":")
    judge_kind, _, judge_model = (judged[0] if judged else "").partition(":")
    extra: dict[str, Any] = {"judge": judge_kind} if judge_kind else {}
    if judge_model:
        extra["encoder_model" if judge_kind == "encoder" else "judge_model"] = judge_model
    if kind == "rules":
        settings = ParserSettings(backend="llama" if judge_kind else "rules", **extra)
        judge = build_judge(settings, None) if judge_kind else None
        return Contender(spec, None, "always", judge, safety_params(settings))
    if kind == "llama":
        settings = ParserSettings(
            backend="llama", model=model or "qwen2.5-coder-0.5b", threads=threads, **extra
        )
    elif kind == "openai" and len(parts) == 2:
        settings = ParserSettings(
            backend="openai", openai_model=model, openai_url=parts[1], **extra
        )
    else:
        fail(f"cannot read backend {spec!r}; use {_SPEC_HELP}")
    backend = build_backend(settings)
    judge = build_judge(settings, backend)
    return Contender(spec, backend, policy, judge, safety_params(settings))


def _evaluate(
    contender: Contender, orders: list[Record], scenario_path: Path, progress: Progress
) -> dict[str, Any]:
    scenario = load_scenario(scenario_path).scenario
    predicted: dict[str, Record] = {}
    wall: list[float] = []
    cpu: list[float] = []
    model_calls = 0
    task = progress.add_task(contender.label, total=len(orders))
    for order in orders:
        submitted = datetime.fromisoformat(order["submitted_at"].replace("Z", "+00:00"))
        started, started_cpu = time.perf_counter(), time.process_time()
        try:
            done = understand(
                order["text"],
                submitted,
                scenario,
                contender.backend,
                contender.policy,
                contender.safety,
                contender.judge,
            )
            predicted[order["id"]] = to_record(done.outcome)
            model_calls += len(done.extracted.completions) if done.extracted else 0
            model_calls += done.judgement.calls if done.judgement else 0
            if done.judgement is not None:
                predicted[order["id"]]["p_red"] = round(done.judgement.p_red, 4)
        except LLMError as err:
            predicted[order["id"]] = {"outcome": "invalid", "error": str(err)}
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        progress.advance(task)
    report = score(orders, predicted)
    report["predicted"] = predicted
    report["latency"] = {
        "median_s": statistics.median(wall),
        "p90_s": sorted(wall)[int(0.9 * (len(wall) - 1))],
        "cpu_s_per_order": sum(cpu) / len(cpu),
        "model_calls": model_calls,
    }
    return report


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _columns(table: Table, names: tuple[str, ...]) -> Table:
    for column in names:
        table.add_column(column, justify="right")
    return table


def _table(corpus: str, results: dict[str, dict[str, Any]]) -> Table:
    """Fields, injections and cost per contender."""
    table = _columns(
        Table(title=f"Parser evaluation: {corpus}", header_style="bold"),
        ("parser", "exact %", "dest", "lines", "prio", "not_bef", "deliv_by", "req",
         "inj. resist", "escal.", "median s", "p90 s", "CPU s/order", "model calls"),
    )  # fmt: skip
    for label, r in results.items():
        f, lat = r["field_accuracy"], r["latency"]
        table.add_row(
            label,
            _pct(r["exact_match"]),
            *(_pct(f[name]) for name in FIELDS),
            _pct(r["injection_resistance"]),
            _pct(r["escalation_rate"]),
            f"{lat['median_s']:.3f}",
            f"{lat['p90_s']:.3f}",
            f"{lat['cpu_s_per_order']:.3f}",
            str(lat["model_calls"]),
        )
    return table


def _red_lines(corpus: str, results: dict[str, dict[str, Any]]) -> Table:
    """What the red-line layers did: leaks, refusals, holds, lawful orders stopped."""
    table = _columns(
        Table(title=f"Red lines: {corpus}", header_style="bold"),
        ("parser", "red-line orders", "leaks", "refused", "right category", "held", "refusal P",
         "lawful refused %", "lawful held %"),
    )  # fmt: skip
    for label, r in results.items():
        red = r["red_line_orders"]
        refused = round((r["refusal_recall"] or 0) * red)
        table.add_row(
            label,
            str(red),
            str(len(r["leaks"])),
            str(refused),
            _pct(r["caught_right_category"]),
            str(r["held_red_line"]),
            _pct(r["refusal_precision"]),
            _pct(r["lawful_refused"]),
            _pct(r["lawful_held"]),
        )
    return table


def _show(value: Any) -> str:
    return escape(json.dumps(value, ensure_ascii=False, default=str))


def _failures(orders: list[Record], results: dict[str, dict[str, Any]]) -> None:
    """Every order a contender got wrong: expected vs got, and which layer decided."""
    by_id = {o["id"]: o for o in orders}
    for label, r in results.items():
        wrong = r["wrong"]
        console.print(f"[bold]{escape(label)}[/bold]: {len(wrong)} wrong")
        for order_id in wrong:
            order, got = by_id[order_id], r["predicted"].get(order_id, {})
            expect = {k: v for k, v in order["expect"].items() if k != "note"}
            leak = " [red]LEAK[/red]" if order_id in r["leaks"] else ""
            console.print(f"  {escape(order_id)}{leak} (layer {escape(got.get('layer', '-'))})")
            console.print(f"    text:     {_show(order['text'][:300])}")
            console.print(f"    expected: {_show(expect)}")
            console.print(f"    got:      {_show(got)}")


def _confusion(results: dict[str, dict[str, Any]]) -> None:
    for label, r in results.items():
        rows = ", ".join(
            f"{exp}→" + "/".join(str(n) for n in row.values())
            for exp, row in r["confusion"].items()
        )
        cols = "/".join(OUTCOMES)
        console.print(f"  {label} confusion (rows expected; cols {cols}): {rows}")


@app.command("parser")
def evaluate_parser(
    corpus: Annotated[list[Path], typer.Option(help="Labelled JSONL corpus (repeatable).")],
    scenario: Annotated[Path, typer.Option(help="Theater scenario the corpus refers to.")],
    backend: Annotated[
        list[str],
        typer.Option(help=f"{_SPEC_HELP} (repeatable: compared side by side)."),
    ] = ["llama:qwen2.5-coder-0.5b"],  # noqa: B006
    limit: Annotated[
        int | None, typer.Option(help="Only the first N orders of each corpus.")
    ] = None,
    threads: Annotated[int, typer.Option(help="llama.cpp threads.")] = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the full report.")] = None,
    failures: Annotated[
        bool, typer.Option("--failures", help="Print every order got wrong, expected vs got.")
    ] = False,
) -> None:
    """Per-field accuracy, exact match, confusion, refusals, injections and latency."""
    try:
        load_scenario(scenario)
        contenders = [_contender(spec, threads) for spec in backend]
    except (ScenarioError, LLMError) as err:
        fail(str(err))
    report: dict[str, dict[str, Any]] = {}
    with Progress(console=console) as progress:
        for path in corpus:
            orders = load_orders(path)[:limit]
            report[path.name] = {
                c.label: _evaluate(c, orders, scenario, progress) for c in contenders
            }
    for path in corpus:
        results = report[path.name]
        if failures:
            _failures(load_orders(path)[:limit], results)
        console.print(_table(path.name, results))
        console.print(_red_lines(path.name, results))
        _confusion(results)
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2, default=str))
        console.print(f"report written to {json_out}")


app.command("train-judge")(train_judge)
