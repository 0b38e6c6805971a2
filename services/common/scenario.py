"""The theater scenario: locations, supply catalog, fleet and operators, loaded and checked."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

LocationKind = Literal[
    "depot", "fob", "cop", "hospital", "village", "camp", "airfield", "port", "checkpoint"
]
Handling = Literal["hazmat", "cold_chain", "secure", "oversize"]
# What makes an item need two distinct people to release it: the handling, or its supply class.
TWO_PERSON_HANDLING = ("hazmat", "cold_chain", "secure")
TWO_PERSON_CLASSES = frozenset({"V"})  # Class V: ammunition
Unit = Literal["pallet", "case", "crate", "each", "gallon", "liter", "box", "unit"]
_ID = r"^[A-Z0-9]+(-[A-Z0-9.]+)*$"
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with what to fix."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Location(_Model):
    """A place supplies can be delivered to or dispatched from."""

    id: str = Field(pattern=_ID)
    names: tuple[str, ...] = Field(min_length=1)
    kind: LocationKind
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    mgrs: str | None = None
    service_min: int = Field(default=20, ge=0, le=600, description="unloading time at this stop")
    holds: tuple[str, ...] | None = Field(
        default=None,
        description="SKUs a depot holds, where vehicles load and reload; None: the whole catalog",
    )


class CatalogItem(_Model):
    """A supply item, one unit of which has this weight, volume and handling."""

    sku: str = Field(pattern=_ID)
    names: tuple[str, ...] = Field(min_length=1)
    class_: str = Field(alias="class", pattern=r"^(I|II|III|IV|V|VI|VII|VIII|IX|X)$")
    unit: Unit
    weight_kg: float = Field(gt=0)
    volume_m3: float = Field(gt=0)
    handling: tuple[Handling, ...] = ()

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Capacity(_Model):
    """How much a vehicle carries."""

    weight_kg: float = Field(gt=0)
    volume_m3: float = Field(gt=0)


class Shift(_Model):
    """Daily UTC working hours of a vehicle's crew."""

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError(f"{value!r} is not a HH:MM clock time")
        return value

    @property
    def start_min(self) -> int:
        """Minutes after midnight the shift starts."""
        hours, minutes = self.start.split(":")
        return int(hours) * 60 + int(minutes)

    @property
    def end_min(self) -> int:
        """Minutes after midnight the shift ends."""
        hours, minutes = self.end.split(":")
        return int(hours) * 60 + int(minutes)


def clock_min(value: str) -> int:
    """Minutes after midnight of a HH:MM clock time."""
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class Break(_Model):
    """A rest the crew takes each shift: length_min, all of it within a daily UTC window."""

    length_min: int = Field(gt=0, le=600)
    earliest: str = Field(description="HH:MM UTC the break may start")
    latest: str = Field(description="HH:MM UTC the break must be over")

    @field_validator("earliest", "latest")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError(f"{value!r} is not a HH:MM clock time")
        return value

    @model_validator(mode="after")
    def _fits(self) -> Break:
        if clock_min(self.latest) - clock_min(self.earliest) < self.length_min:
            raise ValueError(
                f"a {self.length_min} min break does not fit between {self.earliest} and "
                f"{self.latest}; widen the window or shorten the break"
            )
        return self


class VehicleType(_Model):
    """Rules for every vehicle of one type; each left out means no such rule."""

    type: str = Field(description="the vehicles' `type` these rules are for")
    reload_min: int | None = Field(
        default=None,
        ge=0,
        le=600,
        description="may return within its shift to a depot that holds the goods and reload, "
        "which takes this long; None: one trip per shift",
    )
    break_: Break | None = Field(default=None, alias="break")
    max_drive_min: int | None = Field(
        default=None, gt=0, le=1440, description="most minutes of driving in one shift"
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Vehicle(_Model):
    """A vehicle that starts and ends its route at a depot."""

    id: str = Field(pattern=_ID)
    type: str
    depot: str
    capacity: Capacity
    skills: tuple[Handling, ...] = ()
    speed_kmh: float = Field(gt=0, le=200)
    shift: Shift

    @model_validator(mode="after")
    def _shift_is_forward(self) -> Vehicle:
        if self.shift.end_min <= self.shift.start_min:
            raise ValueError(f"shift of {self.id} must end after it starts (same UTC day)")
        return self


class Operator(_Model):
    """A person who may review plans; their public key lives in the trust store."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")
    name: str
    roles: tuple[Literal["approver", "requester", "admin", "observer"], ...] = Field(min_length=1)


class Scenario(_Model):
    """The theater: everything the parser and planner look up."""

    name: str
    description: str = ""
    timezone: Literal["UTC"] = "UTC"
    road_factor: float = Field(default=1.3, ge=1.0, le=3.0)
    locations: tuple[Location, ...] = Field(min_length=1)
    catalog: tuple[CatalogItem, ...] = Field(min_length=1)
    fleet: tuple[Vehicle, ...] = Field(min_length=1)
    vehicle_types: tuple[VehicleType, ...] = Field(
        default=(),
        description="reloads, breaks and driving limits per vehicle type; a type not listed has "
        "none of them",
    )
    operators: tuple[Operator, ...] = ()

    @model_validator(mode="after")
    def _references_resolve(self) -> Scenario:
        _unique("location id", [loc.id for loc in self.locations])
        _unique("sku", [item.sku for item in self.catalog])
        _unique("vehicle id", [vehicle.id for vehicle in self.fleet])
        _unique("operator id", [op.id for op in self.operators])
        _unique("location alias", [n.casefold() for loc in self.locations for n in loc.names])
        _unique("catalog alias", [n.casefold() for item in self.catalog for n in item.names])
        depots = {loc.id for loc in self.locations if loc.kind == "depot"}
        for vehicle in self.fleet:
            if vehicle.depot not in depots:
                raise ValueError(
                    f"vehicle {vehicle.id} starts at {vehicle.depot!r}, which is not a depot"
                )
        self._check_settings(depots)
        return self

    def _check_settings(self, depots: set[str]) -> None:
        """Vehicle types name a type of the fleet; stock lists sit on depots and name SKUs."""
        types = {vehicle.type for vehicle in self.fleet}
        _unique("vehicle type", [rules.type for rules in self.vehicle_types])
        for rules in self.vehicle_types:
            if rules.type not in types:
                raise ValueError(
                    f"vehicle_types names {rules.type!r}, the type of no vehicle in fleet"
                )
        skus = {item.sku for item in self.catalog}
        for loc in self.locations:
            if loc.holds is None:
                continue
            if loc.id not in depots:
                raise ValueError(f"{loc.id} lists what it holds, but only a depot holds goods")
            if unknown := sorted(set(loc.holds) - skus):
                raise ValueError(f"{loc.id} holds unknown SKU(s) {', '.join(unknown)}")

    def rules(self, vehicle: Vehicle) -> VehicleType:
        """The reload, break and driving rules of a vehicle's type (none when not listed)."""
        return self.rules_by_type.get(vehicle.type, _NO_RULES)

    @cached_property
    def rules_by_type(self) -> dict[str, VehicleType]:
        """Vehicle type rules keyed by type."""
        return {rules.type: rules for rules in self.vehicle_types}

    def depot_holds(self, depot: str, skus: Iterable[str]) -> bool:
        """Whether a depot holds every one of these SKUs."""
        held = self.location_by_id[depot].holds
        return held is None or set(skus) <= set(held)

    @cached_property
    def location_by_id(self) -> dict[str, Location]:
        """Locations keyed by id."""
        return {loc.id: loc for loc in self.locations}

    @cached_property
    def item_by_sku(self) -> dict[str, CatalogItem]:
        """Catalog items keyed by SKU."""
        return {item.sku: item for item in self.catalog}

    @cached_property
    def operator_by_id(self) -> dict[str, Operator]:
        """Operators keyed by id."""
        return {op.id: op for op in self.operators}

    def two_person_reasons(self, skus: Iterable[str]) -> tuple[str, ...]:
        """Why these items need two distinct approvers, from this catalog alone: hazmat, cold
        chain, secure handling, Class V, or an item the catalog does not know (fail closed)."""
        found: set[str] = set()
        for sku in skus:
            item = self.item_by_sku.get(sku)
            if item is None:
                found.add("unknown_sku")
                continue
            found.update(h for h in item.handling if h in TWO_PERSON_HANDLING)
            if item.class_ in TWO_PERSON_CLASSES:
                found.add(f"class_{item.class_.lower()}")
        order = [*TWO_PERSON_HANDLING, "class_v", "unknown_sku"]
        return tuple(sorted(found, key=lambda r: order.index(r) if r in order else len(order)))


_NO_RULES = VehicleType(type="")


def _unique(what: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}: each must be unique")
        seen.add(value)


class LoadedScenario(BaseModel):
    """A scenario together with where it came from and the hash of its bytes."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    scenario: Scenario
    path: str
    sha256: str

    @property
    def version(self) -> str:
        """Name plus content hash: what a plan records as its scenario."""
        return f"{self.scenario.name} @ {self.sha256[:12]}"


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario file; raise ScenarioError naming the first problem."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as err:
        raise ScenarioError(f"cannot read scenario {file}: {err.strerror}; check the path") from err
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ScenarioError(f"scenario {file} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario {file} must be a YAML mapping with locations/catalog/fleet")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ScenarioError(
            f"scenario {file} is invalid at {where or 'top level'}: {first['msg']} "
            f"({err.error_count()} problem(s) in all); fix the file and load it again"
        ) from err
    return LoadedScenario(scenario=scenario, path=str(file), sha256=hashlib.sha256(raw).hexdigest())


T = TypeVar("T")


def per_scenario(build: Callable[[Scenario], T]) -> Callable[[Scenario], T]:
    """Memoise an index built from a scenario, keyed by identity (hashing a scenario is slow)."""
    cache: dict[int, tuple[Scenario, T]] = {}

    def cached(scenario: Scenario) -> T:
        hit = cache.get(id(scenario))
        if hit is None or hit[0] is not scenario:
            if len(cache) > 8:
                cache.clear()
            hit = cache[id(scenario)] = (scenario, build(scenario))
        return hit[1]

    return cached
