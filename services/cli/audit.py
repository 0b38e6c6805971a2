"""`qm audit …`: read and verify the hash-chained audit trail."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from schemas.audit import AuditRecorded
from schemas.plans import PlanDecided, PlanReleased
from schemas.topics import Topic
from services.cli.context import console, fail, print_json, run, settings
from services.common.audit import Witnesses, first_broken_link, first_missing_entry
from services.common.codec import DecodeError, decode, encode
from services.common.kafka import KafkaUnavailable, read_topics

app = typer.Typer(help="The gate's hash-chained audit trail.", no_args_is_help=True)


def _entries(archive: Path | None = None) -> list[AuditRecorded]:
    """The trail from Kafka, or from a file written by `qm audit export`."""
    common = settings()
    if archive is not None:
        try:
            lines = archive.read_bytes().splitlines()
        except OSError as err:
            fail(f"cannot read {archive}: {err.strerror}")
        raw = [(f"line {n}", line) for n, line in enumerate(lines, 1) if line.strip()]
    else:
        try:
            records = run(read_topics(common.kafka_bootstrap, [Topic.AUDIT_EVENTS.value]))
        except KafkaUnavailable as err:
            fail(str(err))
        raw = [(f"offset {r.offset}", r.value) for r in sorted(records, key=lambda r: r.offset)]
    entries = []
    for where, value in raw:
        try:
            entries.append(decode(AuditRecorded, value, common.max_message_bytes))
        except DecodeError as err:
            fail(f"audit record at {where} is unreadable ({err}): chain broken")
    return entries


def _witnesses(grace_s: float) -> Witnesses:
    """Decisions older than the grace period, and releases, read from their topics."""
    common = settings()
    topics = [Topic.PLANS_DECIDED.value, Topic.PLANS_RELEASED.value]
    try:
        records = run(read_topics(common.kafka_bootstrap, topics))
    except KafkaUnavailable as err:
        fail(str(err))
    settled_ms = (time.time() - grace_s) * 1000
    sources, released = set(), set()
    for record in records:
        if record.topic == Topic.PLANS_RELEASED.value:
            with contextlib.suppress(DecodeError):  # unreadable ones are dead-lettered
                released.add(decode(PlanReleased, record.value, common.max_message_bytes).plan_id)
        elif record.timestamp_ms <= settled_ms:
            with contextlib.suppress(DecodeError):  # the gate dead-letters, not audits, these
                decode(PlanDecided, record.value, common.max_message_bytes)
                sources.add(f"{record.topic}/{record.partition}/{record.offset}")
    return Witnesses(frozenset(sources), frozenset(released))


@app.command("verify")
def verify(
    archive: Annotated[
        Path | None,
        typer.Option(
            "--file", help="Verify a trail written by `qm audit export` instead of the topic."
        ),
    ] = None,
    head: Annotated[
        str | None,
        typer.Option(
            help="A head hash recorded earlier: the chain must still contain it, which also "
            "catches entries cut from the end."
        ),
    ] = None,
    grace: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds a decision may wait for the gate before its missing entry counts "
            "as removed.",
        ),
    ] = 30.0,
    witnesses: Annotated[
        bool,
        typer.Option(
            help="Cross-check against the decision and release topics: every decision the gate "
            "had time to judge and every release must have its entry (catches cut ends).",
        ),
    ] = True,
) -> None:
    """Check every link of the chain; name the first broken or missing one (exit 1)."""
    entries = _entries(archive)
    broken = first_broken_link(entries)
    if broken is not None:
        fail(broken)
    if head is not None and not any(e.entry_hash.startswith(head) for e in entries):
        fail(f"head {head} is not in the chain: entries were removed from its end")
    if witnesses:
        missing = first_missing_entry(entries, _witnesses(grace))
        if missing is not None:
            fail(missing)
    head = entries[-1].entry_hash[:16] if entries else "-"
    console.print(f"audit chain intact: {len(entries)} entries, head {head}…")


@app.command("export")
def export(
    out: Annotated[Path, typer.Argument(help="File to write, one canonical entry per line.")],
) -> None:
    """Archive the trail to a file that `qm audit verify --file` checks later."""
    entries = _entries()
    out.write_bytes(b"".join(encode(entry) + b"\n" for entry in entries))
    console.print(f"wrote {len(entries)} audit entries to {out}")


@app.command("list")
def list_entries(
    archive: Annotated[
        Path | None, typer.Option("--file", help="Read a trail written by `qm audit export`.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the audit trail, oldest first."""
    entries = _entries(archive)
    if json_out:
        print_json([e.model_dump(mode="json") for e in entries])
        return
    table = Table(title="Audit trail", header_style="bold")
    for column in ("seq", "time", "kind", "plan", "operator", "reason", "hash"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            str(e.seq),
            e.occurred_at.strftime("%d %H:%M:%SZ"),
            e.kind,
            e.plan_id,
            e.operator_id or "-",
            escape(e.reason),
            e.entry_hash[:12],
        )
    console.print(table)
