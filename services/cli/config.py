"""`qm config`: the effective settings of every service, secrets masked, and where each came from.

Each service reads its settings class from the environment at start; this reads the same
classes from the same environment, so what it prints is what a service started here would run
with. pydantic-settings does not record a value's source, so it is worked out the way the
environment source finds a value: the first of the field's variable names that is set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import AliasChoices, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from rich.table import Table

from services.cli.context import console, fail, print_json
from services.common.settings import CommonSettings, describe_errors

if TYPE_CHECKING:
    from services.gate.settings import GateSettings
    from services.parser.settings import ParserSettings
    from services.planner.settings import PlannerSettings

S = TypeVar("S", bound=CommonSettings)


@dataclass(frozen=True)
class ServiceSettings:
    """The shared settings and each service's own, as each service would read them at start."""

    common: CommonSettings
    parser: ParserSettings
    planner: PlannerSettings
    gate: GateSettings

    def by_service(self) -> dict[str, CommonSettings]:
        """common, parser, planner, gate: in the order they are shown."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def _load(service: str, cls: type[S]) -> S:
    try:
        return cls()
    except ValidationError as err:
        fail(f"the {service} settings are refused:\n{describe_errors(err)}")


def service_settings() -> ServiceSettings:
    """Every service's settings from this environment, or one error naming what to change."""
    # Imported here: the planner's settings bring its solver and OR-Tools, which only the
    # commands that read every service's settings should pay for.
    from services.gate.settings import GateSettings
    from services.parser.settings import ParserSettings
    from services.planner.settings import PlannerSettings

    return ServiceSettings(
        common=_load("common", CommonSettings),
        parser=_load("parser", ParserSettings),
        planner=_load("planner", PlannerSettings),
        gate=_load("gate", GateSettings),
    )


def _variables(cls: type[CommonSettings], name: str, field: FieldInfo) -> list[str]:
    """The environment variables that set a field, in the order pydantic-settings tries them."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    if isinstance(alias, str):
        return [alias]
    return [f"{cls.model_config.get('env_prefix', '')}{name}".upper()]


def _source(variables: list[str], value: Any, field: FieldInfo) -> str:
    present = {key.upper(): key for key in os.environ}  # the settings are case-insensitive
    for variable in variables:
        if variable.upper() in present:
            key = present[variable.upper()]
            return "env" if variable == variables[0] else f"env {key}"
    # Not set, yet not the default: a validator derived it (the SASL protocol from a username).
    return "default" if value == field.get_default(call_default_factory=True) else "derived"


def _shown(value: Any) -> Any:
    """JSON-ready, with secrets masked (a set secret as **********, an unset one as '')."""
    if isinstance(value, SecretStr):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def effective(settings: ServiceSettings) -> dict[str, dict[str, dict[str, Any]]]:
    """Per service, each setting's variable, masked value and source; a service lists only the
    settings it adds to the common ones (those read the same variables everywhere)."""
    report: dict[str, dict[str, dict[str, Any]]] = {}
    for service, loaded in settings.by_service().items():
        cls = type(loaded)
        report[service] = {}
        for name, field in cls.model_fields.items():
            if service != "common" and name in CommonSettings.model_fields:
                continue
            variables = _variables(cls, name, field)
            value = getattr(loaded, name)
            report[service][name] = {
                "variable": variables[0],
                "value": _shown(value),
                "source": _source(variables, value, field),
            }
    return report


def show(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Print the effective settings of every service (common, parser, planner, gate), secrets
    masked, with the variable that set each value or `default`."""
    report = effective(service_settings())
    if as_json:
        print_json(report)
        return
    table = Table(title="Effective settings", header_style="bold")
    for column in ("service", "variable", "value", "from"):
        table.add_column(column)
    for service, rows in report.items():
        for row in rows.values():
            table.add_row(service, row["variable"], str(row["value"]), row["source"])
    console.print(table)
