"""`qm audit …`: read and verify the hash-chained audit trail."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from schemas.audit import AuditRecorded
from schemas.topics import Topic
from services.cli.context import console, fail, print_json, run, settings
from services.common.audit import first_broken_link
from services.common.codec import DecodeError, decode
from services.common.kafka import KafkaUnavailable, read_topics

app = typer.Typer(help="The gate's hash-chained audit trail.", no_args_is_help=True)


def _entries() -> list[AuditRecorded]:
    common = settings()
    try:
        records = run(read_topics(common.kafka_bootstrap, [Topic.AUDIT_EVENTS.value]))
    except KafkaUnavailable as err:
        fail(str(err))
    entries = []
    for record in sorted(records, key=lambda r: r.offset):
        try:
            entries.append(decode(AuditRecorded, record.value, common.max_message_bytes))
        except DecodeError as err:
            fail(f"audit record at offset {record.offset} is unreadable ({err}): chain broken")
    return entries


@app.command("verify")
def verify(
    head: Annotated[
        str | None,
        typer.Option(
            help="A head hash recorded earlier: the chain must still contain it, which also "
            "catches entries cut from the end."
        ),
    ] = None,
) -> None:
    """Check every link of the chain; name the first broken one (exit 1)."""
    entries = _entries()
    broken = first_broken_link(entries)
    if broken is not None:
        fail(broken)
    if head is not None and not any(e.entry_hash.startswith(head) for e in entries):
        fail(f"head {head} is not in the chain: entries were removed from its end")
    head = entries[-1].entry_hash[:16] if entries else "-"
    console.print(f"audit chain intact: {len(entries)} entries, head {head}…")


@app.command("list")
def list_entries(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show the audit trail, oldest first."""
    entries = _entries()
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
