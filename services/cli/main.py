"""qm: the Quartermaster command line for operators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.cli import acl, audit, bench, dlq, evaluate, keys, orders, plans, reviews
from services.cli.chaos import chaos
from services.cli.context import console, fail, run, settings
from services.cli.status import status
from services.common.kafka import KafkaUnavailable, ensure_topics
from services.common.scenario import ScenarioError, load_scenario

app = typer.Typer(
    help="Quartermaster: plan supply deliveries; humans approve every release.",
    no_args_is_help=True,
)
app.add_typer(orders.app, name="order")
app.add_typer(reviews.app, name="orders")
app.add_typer(plans.app, name="plans")
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(dlq.app, name="dlq")
app.add_typer(acl.app, name="acls")
app.add_typer(bench.app, name="bench")
app.command("status")(status)
app.command("chaos")(chaos)
app.add_typer(evaluate.app, name="eval")
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
scenario_app = typer.Typer(help="Theater scenarios.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(scenario_app, name="scenario")


@topics_app.command("create")
def create_topics(
    partitions: Annotated[int | None, typer.Option(help="Partitions per topic.")] = None,
) -> None:
    """Create every topic and dead-letter topic that is missing (idempotent)."""
    common = settings()
    try:
        created = run(ensure_topics(common.kafka_bootstrap, partitions or common.partitions))
    except KafkaUnavailable as err:
        fail(str(err))
    console.print(
        f"created {len(created)} topic(s) on {common.kafka_bootstrap}: "
        f"{', '.join(created) or 'all existed'}"
    )


@scenario_app.command("check")
def check_scenario(path: Annotated[Path, typer.Argument(help="Scenario YAML file.")]) -> None:
    """Load a scenario and report what it holds, or the first problem in it."""
    try:
        loaded = load_scenario(path)
    except ScenarioError as err:
        fail(str(err))
    s = loaded.scenario
    console.print(
        f"{loaded.version}: {len(s.locations)} locations, {len(s.catalog)} items, "
        f"{len(s.fleet)} vehicles, {len(s.operators)} operators"
    )


if __name__ == "__main__":
    app()
