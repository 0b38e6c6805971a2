"""`qm dlq …`: inspect dead-lettered records and re-inject them after a fix."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from rich.markup import escape
from rich.table import Table

from schemas.topics import Topic
from services.cli.context import console, fail, run, settings
from services.common.kafka import KafkaUnavailable, Record, read_topics

app = typer.Typer(help="Dead-letter topics: list, show, replay.", no_args_is_help=True)

REPLAYED_FROM = "qm-replayed-from"
TopicOpt = Annotated[
    list[str] | None,
    typer.Option("--topic", "-t", help="Source or dead-letter topic (repeatable); default all."),
]
ReasonOpt = Annotated[str | None, typer.Option(help="Only records with this qm-reason.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic with its qm-* headers."""

    record: Record

    @property
    def headers(self) -> dict[str, str]:
        """Headers as text (undecodable bytes replaced)."""
        return {k: v.decode("utf-8", "replace") for k, v in self.record.headers}

    @property
    def ref(self) -> str:
        """`<dlq topic>:<partition>:<offset>`, what `show` and `replay --record` take."""
        return f"{self.record.topic}:{self.record.partition}:{self.record.offset}"

    @property
    def reason(self) -> str:
        """Why it was dead-lettered."""
        return self.headers.get("qm-reason", "-")

    @property
    def source(self) -> str:
        """The topic it was read from, where a replay puts it back."""
        return self.headers.get("qm-source-topic") or self.record.topic.removesuffix(".dlq")

    @property
    def time(self) -> str:
        """When it was dead-lettered (UTC)."""
        moment = datetime.fromtimestamp(self.record.timestamp_ms / 1000, UTC)
        return moment.isoformat(timespec="seconds")

    def summary(self) -> dict[str, Any]:
        """The row `list --json` prints."""
        return {
            "ref": self.ref,
            "topic": self.record.topic,
            "partition": self.record.partition,
            "offset": self.record.offset,
            "source": self.source,
            "reason": self.reason,
            "detail": self.headers.get("qm-detail", ""),
            "time": self.time,
            "size": len(self.record.value),
        }


def dlq_topics(names: list[str] | None) -> list[str]:
    """Dead-letter topic names for the given source or DLQ names (all when none given)."""
    if not names:
        return [t.dlq for t in Topic]
    return [n if n.endswith(".dlq") else f"{n}.dlq" for n in names]


def read_dead_letters(
    topics: list[str] | None = None, reason: str | None = None
) -> list[DeadLetter]:
    """Every record of the selected dead-letter topics, oldest first."""
    common = settings()
    try:
        records = run(read_topics(common.kafka_bootstrap, dlq_topics(topics)))
    except KafkaUnavailable as err:
        fail(str(err))
    letters = [DeadLetter(r) for r in records]
    return [d for d in letters if reason is None or d.reason == reason]


def _parse_ref(ref: str) -> tuple[str, int, int]:
    try:
        topic, partition, offset = ref.rsplit(":", 2)
        return (topic if topic.endswith(".dlq") else f"{topic}.dlq"), int(partition), int(offset)
    except ValueError:
        fail(
            f"bad record reference {ref!r}; use <topic>:<partition>:<offset> as `qm dlq list` shows"
        )


@app.command("list")
def list_letters(
    topic: TopicOpt = None, reason: ReasonOpt = None, json_out: JsonOpt = False
) -> None:
    """Dead-lettered records: where they are, why, and how big."""
    letters = read_dead_letters(topic, reason)
    if json_out:
        typer.echo(json.dumps([d.summary() for d in letters], indent=2))
        return
    table = Table(title=f"{len(letters)} dead-lettered record(s)")
    for column in ("topic", "partition", "offset", "reason", "detail", "time", "size"):
        table.add_column(
            column, justify="right" if column in ("partition", "offset", "size") else "left"
        )
    for d in letters:
        row = d.summary()
        table.add_row(
            escape(row["topic"]),
            str(row["partition"]),
            str(row["offset"]),
            escape(row["reason"]),
            escape(row["detail"][:80]),
            row["time"],
            str(row["size"]),
        )
    console.print(table)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="<topic>:<partition>:<offset> from `qm dlq list`.")],
    hex_out: Annotated[bool, typer.Option("--hex", help="Show the bytes as hex.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """One dead-lettered record: its headers and its original bytes."""
    topic, partition, offset = _parse_ref(ref)
    found = [
        d
        for d in read_dead_letters([topic])
        if (d.record.partition, d.record.offset) == (partition, offset)
    ]
    if not found:
        fail(f"no record {topic}:{partition}:{offset}")
    letter = found[0]
    value = letter.record.value
    try:
        text: str | None = value.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if json_out:
        body = {"text": text} if text is not None and not hex_out else {"hex": value.hex()}
        key = letter.record.key
        extra = {"key": key.decode("utf-8", "replace") if key else None, "headers": letter.headers}
        typer.echo(json.dumps({**letter.summary(), **extra, **body}, indent=2))
        return
    console.print(f"[bold]{escape(letter.ref)}[/]  {letter.time}  {len(value)} bytes")
    for name, header in letter.headers.items():
        console.print(f"  {escape(name)}: {escape(header)}")
    if text is None or hex_out:
        console.print("original bytes (hex):" if text is None else "original bytes:")
        console.print(value.hex(" ", 16) if value else "(empty)", soft_wrap=True)
    else:
        console.print("original bytes (UTF-8):")
        console.print(escape(text), soft_wrap=True, markup=False)


async def _republish(bootstrap: str, letters: list[DeadLetter]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", max_request_size=16 << 20
    )
    try:
        await producer.start()
    except KafkaConnectionError as err:
        raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap}") from err
    try:
        for letter in letters:
            headers = [(k, v) for k, v in letter.record.headers if not k.startswith("qm-")]
            headers.append((REPLAYED_FROM, letter.ref.encode()))
            await producer.send_and_wait(
                letter.source, letter.record.value, key=letter.record.key, headers=headers
            )
    finally:
        await producer.stop()


@app.command("replay")
def replay(
    topic: TopicOpt = None,
    reason: ReasonOpt = None,
    record: Annotated[
        list[str] | None,
        typer.Option("--record", "-r", help="<topic>:<partition>:<offset> (repeatable)."),
    ] = None,
    all_records: Annotated[
        bool, typer.Option("--all", help="Every record of the selected topics.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be sent.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Re-publish the original bytes of selected records to their source topic.

    Each copy carries `qm-replayed-from: <dlq topic>:<partition>:<offset>`. Consumers derive ids
    from content, so replaying a record that was processed already makes no second effect.
    """
    if not (record or reason or all_records):
        fail("choose what to replay: --record, --reason, or --all")
    refs = {_parse_ref(r) for r in record or ()}
    topics = [t for t, _, _ in refs] if refs and not topic else topic
    letters = [
        d
        for d in read_dead_letters(topics, reason)
        if not refs or (d.record.topic, d.record.partition, d.record.offset) in refs
    ]
    if not letters:
        fail("no dead-lettered record matches")
    if not dry_run:
        try:
            run(_republish(settings().kafka_bootstrap, letters))
        except KafkaUnavailable as err:
            fail(str(err))
    rows = [{"ref": d.ref, "to": d.source, "reason": d.reason} for d in letters]
    if json_out:
        typer.echo(json.dumps({"dry_run": dry_run, "replayed": rows}, indent=2))
        return
    verb = "would replay" if dry_run else "replayed"
    for row in rows:
        console.print(
            f"{verb} {escape(row['ref'])} → {escape(row['to'])} ({escape(row['reason'])})"
        )
    console.print(f"{verb} {len(rows)} record(s)")
