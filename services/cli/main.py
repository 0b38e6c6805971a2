"""qm: the Quartermaster command line for operators."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from services.cli import (
    acl,
    audit,
    dlq,
    fleet,
    keys,
    lifecycle,
    models,
    orders,
    plans,
    reviews,
    zones,
)
from services.cli.config import show as show_config
from services.cli.context import console, err_console, fail, run, settings
from services.cli.status import status
from services.common.kafka import (
    KafkaUnavailable,
    describe_topic_configs,
    ensure_topics,
    kept_forever_topics,
    retention_drift,
)
from services.common.scenario import ScenarioError, load_scenario

app = typer.Typer(
    help="Quartermaster: plan supply deliveries; humans approve every release.",
    no_args_is_help=True,
)
app.add_typer(orders.app, name="order")
app.add_typer(reviews.app, name="orders")
reviews.app.command("list")(lifecycle.list_orders)
reviews.app.command("show")(lifecycle.show)
reviews.app.command("watch")(lifecycle.watch)
reviews.app.command("answer")(lifecycle.answer)
reviews.app.command("amend")(lifecycle.amend)
app.add_typer(plans.app, name="plans")
app.add_typer(fleet.app, name="fleet")
app.add_typer(zones.app, name="zones")
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(dlq.app, name="dlq")
app.add_typer(acl.app, name="acls")
app.add_typer(models.app, name="model")
app.command("status")(status)
app.command("config")(show_config)


def _register_lab() -> None:
    """The lab's commands (bench, chaos, eval) when the lab is installed beside the product;
    the product never imports it, and the image does not ship it."""
    for entry in entry_points(group="quartermaster.cli"):
        try:
            register = entry.load()
        except ImportError:
            continue  # a product-only install: no lab
        register(app)


_register_lab()
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
    _warn_about_retention(common.kafka_bootstrap)


def _warn_about_retention(bootstrap: str) -> None:
    """Existing topics are never altered here; a release or audit topic that would lose its
    history is named, with the command that fixes it."""
    try:
        configs = run(describe_topic_configs(bootstrap, kept_forever_topics()))
    except Exception as err:  # e.g. a principal without DESCRIBE_CONFIGS
        err_console.print(
            f"[bold yellow]warning:[/] could not check the retention of "
            f"{', '.join(kept_forever_topics())} ({escape(f'{type(err).__name__}: {err}')}); run "
            "`qm topics create` as qm-admin or the super user to check it"
        )
        return
    for drift in retention_drift(configs):
        err_console.print(f"[bold yellow]warning:[/] {escape(drift.warning(bootstrap))}")


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
