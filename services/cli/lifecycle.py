"""`qm orders list | show | watch | answer | amend`: every order's fate, and the answers that
send an unclear order on as a new, signed version (the old one is closed; nothing is planned
twice)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from schemas.envelope import content_id, utcnow
from schemas.orders import OrderSubmitted
from schemas.topics import Topic
from services.cli.context import console, fail, print_json, run, settings
from services.cli.orderbook import STATUSES, Fate, find, load_fates, related
from services.cli.publishing import send
from services.cli.signer import submission_for
from services.cli.view import chars
from services.common.kafka import KafkaUnavailable

# What the parser accepts an answer for (a question back, or text it could not read): a refused
# or held order is decided by a person, a parsed one is already on its way.
from services.parser.review import ANSWERABLE

OUTCOMES = frozenset(STATUSES) - {"submitted", "split"}
Json = Annotated[bool, typer.Option("--json", help="Machine-readable.")]
Operator = Annotated[str, typer.Option("--as", envvar="QM_OPERATOR", help="Your operator id.")]


def fates() -> dict[str, Fate]:
    """Every order's fate, or a clear error when Kafka cannot be read."""
    try:
        return run(load_fates(settings()))
    except KafkaUnavailable as err:
        fail(str(err))


def _one(order_id: str, known: dict[str, Fate]) -> Fate:
    fate = find(known, order_id)
    if fate is None:
        fail(f"no single order matches {order_id!r}; `qm orders list` shows the order ids")
    return fate


def list_orders(
    status: Annotated[
        list[str] | None,
        typer.Option(help=f"Only these statuses ({', '.join(STATUSES)}); repeatable."),
    ] = None,
    json_out: Json = False,
) -> None:
    """Every order and where it stands: parsed, waiting for an answer or a review, in a plan."""
    unknown = set(status or ()) - set(STATUSES)
    if unknown:
        fail(f"unknown status {', '.join(sorted(unknown))}; choose from {', '.join(STATUSES)}")
    chosen = [f for f in fates().values() if not status or f.status in status]
    chosen.sort(key=lambda f: f.since)
    if json_out:
        print_json([f.as_json() for f in chosen])
        return
    table = Table(title="Orders", header_style="bold")
    for column in ("order", "status", "since", "by", "next"):
        table.add_column(column)
    for fate in chosen:
        by = fate.signed_by or (f"{fate.submitted_by} (unsigned)" if fate.submitted_by else "-")
        table.add_row(
            escape(fate.order_id),
            fate.status,
            f"{fate.since:%d %H:%MZ}",
            escape(by),
            escape(fate.summary()),
        )
    console.print(table)


def show(order_id: str, json_out: Json = False) -> None:
    """One order's life: its words, each step with reasons and evidence, fields and sources."""
    known = fates()
    fate = _one(order_id, known)
    later = related(known, fate)
    if json_out:
        print_json({**fate.as_json(), "related": [f.as_json() for f in later]})
        return
    for one in [fate, *later]:
        _print(one)


def _print(fate: Fate) -> None:
    console.print(f"[bold]{escape(fate.order_id)}[/]  {fate.status}: {escape(fate.summary())}")
    console.print(f"  text: {escape(fate.text)}")
    data = fate.as_json()
    for segment in data["injected"]:
        console.print(f"  [yellow]cut as injection[/]: {escape(segment)}")
    for line in data["evidence"]:
        console.print(f"  [yellow]evidence[/]: {escape(line)}")
    if fate.rejected and fate.rejected.evidence_spans:
        console.print(f"  evidence found in the text{chars(fate.rejected.evidence_spans)}")
    if fate.parsed is not None:
        fields = ", ".join(f"{k} {v:.2f}" for k, v in sorted(fate.parsed.confidence.items()))
        console.print(f"  fields from {escape(fate.parsed.parser)}; confidence: {fields or '-'}")
        for name, said in fate.parsed.sources.items():
            console.print(f"    {name} from {escape(said)}{chars(fate.parsed.spans.get(name, ()))}")
    for event in sorted(fate.events, key=lambda e: e.at):
        console.print(f"  {event.at:%d %H:%M:%SZ} {event.stage:<13} {escape(event.detail)}")
    if fate.status in ANSWERABLE:
        console.print(
            f"  answer it: qm orders answer {fate.order_id} --destination … | --item … "
            f'--quantity … | --time …  (or qm orders amend {fate.order_id} "corrected text")'
        )


def watch(
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 2.0,
    once: Annotated[bool, typer.Option(help="Print what happened so far and exit.")] = False,
) -> None:
    """Live: each new step of any order as it happens (Ctrl-C to stop)."""
    printed: set[tuple[str, datetime, str]] = set()
    while True:
        steps = [(f, e) for f in fates().values() for e in f.events]
        for fate, event in sorted(steps, key=lambda pair: pair[1].at):
            key = (fate.order_id, event.at, event.stage)
            if key not in printed:
                printed.add(key)
                console.print(
                    f"{event.at:%H:%M:%SZ} {escape(fate.order_id)} {event.stage}: "
                    f"{escape(event.detail)}"
                )
        if once:
            return
        time.sleep(interval)


def answer(
    order_id: str,
    operator: Operator,
    destination: Annotated[str | None, typer.Option(help="Where it goes.")] = None,
    item: Annotated[str | None, typer.Option(help="What is needed.")] = None,
    quantity: Annotated[str | None, typer.Option(help="How many, with the unit.")] = None,
    when: Annotated[str | None, typer.Option("--time", help="By when (e.g. 0600Z).")] = None,
) -> None:
    """Answer what the parser asked: the order's text with your answer, as a new signed
    version the parser reads as usual."""
    parts = [
        f"Deliver to {destination}." if destination else "",
        f"Need {quantity} {item or ''}.".replace(" .", ".") if quantity else "",
        f"Item: {item}." if item and not quantity else "",
        f"Needed by {when}." if when else "",
    ]
    added = " ".join(p for p in parts if p)
    if not added:
        fail("give at least one of --destination, --item, --quantity, --time")
    fate = _answerable(order_id)
    _send_version(fate, f"{fate.text}\nANSWER: {added}", operator)


def amend(
    order_id: str,
    text: Annotated[str, typer.Argument(help="The corrected order, in full.")],
    operator: Operator,
) -> None:
    """Replace an unclear order with corrected text, as a new signed version."""
    _send_version(_answerable(order_id), text, operator)


def _answerable(order_id: str) -> Fate:
    fate = _one(order_id, fates())
    if fate.status not in ANSWERABLE:
        fail(
            f"{fate.order_id} is {fate.status}, not waiting for an answer; only an order the "
            f"parser asked about or could not read can be answered"
        )
    return fate


def _send_version(fate: Fate, text: str, operator: str) -> None:
    now = utcnow()
    order_id = content_id("ord", "answer", fate.order_id, text, now.isoformat())
    claim = submission_for(order_id, text, operator, now, required=True)
    version = OrderSubmitted(
        message_id=content_id("msg", "submit", order_id),
        occurred_at=now,
        order_id=order_id,
        text=text,
        submitted_by=operator,
        submitter=claim,
        amends=fate.order_id,
    )
    try:
        run(send(Topic.ORDERS_SUBMITTED, version, version.order_id))
    except KafkaUnavailable as err:
        fail(str(err))
    console.print(
        f"sent {order_id} answering {fate.order_id}, signed by {operator}; the parser reads it "
        f"as usual (`qm orders show {order_id}`)"
    )


def wait_for_outcomes(order_ids: list[str], timeout_s: float) -> list[Fate]:
    """Poll until every order (or all its parts) has an outcome; what is known at the end."""
    deadline = time.monotonic() + timeout_s
    while True:
        known = fates()
        done = [known[o] for o in order_ids if o in known and _settled(known, known[o])]
        if len(done) == len(order_ids) or time.monotonic() > deadline:
            return [known.get(o) or Fate(o) for o in order_ids]
        time.sleep(1.0)


def _settled(known: dict[str, Fate], fate: Fate) -> bool:
    if fate.status == "split":
        return all(known[p].status in OUTCOMES for p in fate.parts if p in known)
    return fate.status in OUTCOMES
