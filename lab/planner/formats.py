"""Benchmark data: the instance and best-known types, and the Li & Lim and Cordeau formats.

The Solomon, Homberger and CVRPLIB readers (through vrplib) and `read_instance`, which picks a
reader by a file's content, are in `lab.planner.bench`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instance:
    """One benchmark instance in its own units; nodes 0..depots-1 are the depots."""

    name: str
    set: str
    convention: str
    coords: tuple[tuple[float, float], ...]
    demand: tuple[int, ...]  # a delivery of a pickup-delivery pair has a negative demand
    capacity: int
    vehicles: int  # per depot
    windows: tuple[tuple[int, int], ...] | None
    service: tuple[int, ...]
    depots: int = 1
    pairs: tuple[tuple[int, int], ...] = ()  # (pickup node, delivery node)
    max_duration: int | None = None  # longest route, driving plus service
    fleet_fixed: bool = True  # False: the fleet is unlimited (CVRPLIB)


@dataclass(frozen=True)
class Bks:
    """The best-known distance of an instance under its set's distance convention."""

    instance: str
    set: str
    convention: str
    vehicles: int | None
    distance: float


def read_json_bks(paths: Iterable[Path]) -> dict[str, Bks]:
    """Best-known costs from the `*-bks.json` files (Li & Lim, Cordeau) in or above the paths."""
    out: dict[str, Bks] = {}
    folders = {p if p.is_dir() else p.parent for p in paths}
    found = {f for d in folders for f in (*d.rglob("*-bks.json"), *d.parent.glob("*-bks.json"))}
    for file in sorted(found):
        for name, row in json.loads(file.read_text()).items():
            used = row.get("solved_with_vehicles")
            out[name.lower()] = Bks(
                instance=name,
                set=row["class"],
                convention="exact_double",
                vehicles=int(used) if used is not None else None,
                distance=float(row["best_known_cost"]),
            )
    return out


def read_li_lim(path: Path, known: Bks | None) -> Instance:
    """Li & Lim PDPTW: `K Q S`, then `i x y demand ready due service pickup delivery` rows."""
    (vehicles, capacity, _speed), *tasks = _rows(path)
    # A pickup names its delivery in the last column; a delivery names its pickup before it.
    pairs = tuple((int(t[0]), int(t[8])) for t in tasks if t[0] > 0 and t[7] == 0)
    return Instance(
        name=known.instance if known else path.stem,
        set=known.set if known else ("li_lim_100" if len(tasks) <= 111 else "li_lim_200"),
        convention="exact_double",
        coords=tuple((t[1], t[2]) for t in tasks),
        demand=tuple(int(t[3]) for t in tasks),
        capacity=int(capacity),
        vehicles=int(vehicles),
        windows=tuple((int(t[4]), int(t[5])) for t in tasks),
        service=tuple(int(t[6]) for t in tasks),
        pairs=pairs,
    )


def read_cordeau(path: Path, known: Bks | None) -> Instance:
    """Cordeau MDVRP: `type m n t`, t rows `D Q`, n customers `i x y d q ...`, t depots `i x y`."""
    (kind, per_depot, n, t), *rows = _rows(path)
    n, t = int(n), int(t)
    limits, customers, depots = rows[:t], rows[t : t + n], rows[t + n : t + n + t]
    if kind != 2 or len(depots) != t or len({(d, q) for d, q, *_ in limits}) != 1:
        raise ValueError(f"{path}: not a Cordeau MDVRP file with one duration and capacity")
    duration, capacity = limits[0][:2]
    nodes = [*depots, *customers]  # depots first, as the planner numbers nodes
    return Instance(
        name=known.instance if known else path.stem,
        set=known.set if known else "cordeau",
        convention="exact_double",
        coords=tuple((r[1], r[2]) for r in nodes),
        demand=(0,) * t + tuple(int(r[4]) for r in customers),
        capacity=int(capacity),
        vehicles=int(per_depot),
        windows=None,
        service=(0,) * t + tuple(int(r[3]) for r in customers),
        depots=t,
        max_duration=int(duration) or None,
    )


def _rows(path: Path) -> list[list[float]]:
    return [
        [float(x) for x in line.split()] for line in path.read_text().splitlines() if line.strip()
    ]
