"""Start routes from ruin and recreate (native/sisr.c), compiled once into the cache; ctypes only.

OR-Tools stays the engine: these routes are only where its search starts. Without a C compiler
the planner logs why and lets OR-Tools construct on its own.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

import numpy as np

from services.common.cache import cache_dir
from services.planner.construct import duty_shape
from services.planner.problem import Job, Problem

log = logging.getLogger("qm.planner")

SOURCE = Path(__file__).with_name("native") / "sisr.c"
# The compiler flags live beside the source, where the Dockerfile's build reads them too.
CFLAGS = SOURCE.with_name("cflags")
_I64 = ctypes.POINTER(ctypes.c_int64)
_I32 = ctypes.POINTER(ctypes.c_int)
_U8 = ctypes.POINTER(ctypes.c_ubyte)


class Inst(ctypes.Structure):
    """sisr.c's `Inst`, field for field in its order: the instance the search reads."""

    _fields_ = (
        ("nodes", ctypes.c_int),
        ("duties", ctypes.c_int),
        ("jobs", ctypes.c_int),
        ("dist", _I64),
        ("travel", _I64),
        ("service", _I64),
        ("duty_node", _I32),
        ("duty_class", _I32),
        ("duty_shape", _I32),
        ("duty_start", _I64),
        ("duty_end", _I64),
        ("duty_cap", _I64),
        ("duty_fixed", _I64),
        ("job_node", _I32),
        ("job_open", _I64),
        ("job_close", _I64),
        ("job_dem", _I64),
        ("job_penalty", _I64),
        ("allowed", _U8),
        ("locked", _U8),
        ("adj", _I32),  # the search's own work arrays: left NULL
        ("remote", _I64),
    )


class NativeUnavailable(RuntimeError):
    """The search cannot be built or loaded here."""


@dataclass(frozen=True)
class Knobs:
    """SISR's parameters: the paper's removal sizes; temperatures in average arcs (README)."""

    removed: float = 10.0  # average jobs removed per ruin (c-bar)
    string_max: float = 10.0  # longest string removed (L-max)
    t_start: float = 1.0  # start temperature, in average arcs of the first solution
    t_end: float = 0.02  # end temperature


def library_path() -> Path:
    """Where the compiled search lives: keyed by the source and flags, so edits rebuild it.

    $QM_PLANNER_SISR_LIBRARY names a prebuilt library instead (images without a compiler).
    """
    from services.planner.settings import PlannerSettings  # settings import the solver

    prebuilt = PlannerSettings().sisr_library
    if prebuilt is not None:
        return prebuilt
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(_flags()).encode()).hexdigest()[:16]
    return cache_dir() / "native" / f"sisr-{digest}.so"


@cache
def _library() -> ctypes.CDLL:
    path = library_path()
    if not path.exists():
        _compile(path)
    lib = ctypes.CDLL(str(path))
    size = getattr(lib, "sisr_inst_size", None)  # absent from libraries built before Inst
    if size is not None:
        size.restype = ctypes.c_size_t
    if size is None or size() != ctypes.sizeof(Inst):
        raise NativeUnavailable(
            f"{path} has another Inst layout than sisr.Inst: make Inst match sisr.c, or delete"
            " the library (or unset QM_PLANNER_SISR_LIBRARY) to rebuild it"
        )
    fn = lib.sisr_solve
    fn.restype = ctypes.c_int64
    fn.argtypes = [
        ctypes.POINTER(Inst),
        _I32,
        ctypes.c_double,
        ctypes.c_uint64,
        *(ctypes.c_double,) * 6,
        _I32,
    ]
    return lib


def _flags() -> list[str]:
    """The words of native/cflags, its '#' comment lines left out."""
    lines = CFLAGS.read_text().splitlines()
    return [word for line in lines if not line.startswith("#") for word in line.split()]


def _compile(path: Path) -> None:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise NativeUnavailable("no C compiler (cc/gcc) found; install gcc or set CC")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Built beside its final name, then renamed: parallel workers never load half a file.
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=path.parent)
    os.close(fd)
    command = [compiler, "-o", tmp, str(SOURCE), *_flags()]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise NativeUnavailable(f"cannot run the C compiler {compiler!r}: {exc}") from exc
    if done.returncode != 0:
        Path(tmp).unlink(missing_ok=True)
        raise NativeUnavailable(f"compiling {SOURCE.name} failed: {done.stderr.strip()[:500]}")
    os.replace(tmp, path)
    log.info("built the ruin-and-recreate search into %s", path)


@cache
def available() -> bool:
    """Whether the search can run here (building it on first use; a failure is not retried)."""
    try:
        _library()
    except (NativeUnavailable, OSError) as exc:
        log.warning("ruin-and-recreate start routes unavailable (%s); OR-Tools constructs", exc)
        return False
    return True


def applies(problem: Problem) -> bool:
    """Whether the search models this problem: not pickup-delivery pairs, reloads, breaks or
    driving limits (OR-Tools models those; its own constructions start the search)."""
    return bool(problem.jobs and problem.duties) and not problem.pairs and not problem.has_rules()


def start_routes(
    problem: Problem,
    seconds: float,
    seed: int = 0,
    knobs: Knobs | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[list[int]] | None:
    """Node lists per duty after `seconds` of ruin and recreate (blocking, releases the GIL).

    The search runs in slices of about a tenth of the time (at least a second), each from the
    best routes so far; `progress` hears the objective after each one. Locked runs start on
    their duties and never move; None when they already break a constraint of the search's.
    """
    if not applies(problem):
        raise ValueError(
            "start_routes does not model pickup-delivery pairs or reloads, breaks "
            "and driving limits; check sisr.applies first"
        )
    knobs = knobs or Knobs()
    a = _arrays(problem)
    instance = _instance(problem, a)  # points into `a`, which lives until the search is done
    routes = _flat(problem)
    seconds = max(seconds, 0.0)
    count = max(1, min(10, int(seconds)))
    for k in range(count):
        done = _library().sisr_solve(
            ctypes.byref(instance),
            _ptr(routes, _I32) if k or problem.locked else None,
            seconds / count,
            seed * 1000 + k,
            knobs.removed,
            knobs.string_max,
            knobs.t_start,
            knobs.t_end,
            k / count,
            (k + 1) / count,
            _ptr(routes, _I32),
        )
        if done == -2:
            log.warning("locked stops break a window or capacity in the start routes")
            return None
        if done < 0:
            raise MemoryError("the ruin-and-recreate search ran out of memory")
        if progress is not None:
            progress(objective(problem, _split(routes.tolist(), len(problem.duties))))
    return [
        [problem.jobs[k].node for k in route]
        for route in _split(routes.tolist(), len(problem.duties))
    ]


def objective(problem: Problem, routes: list[list[int]]) -> int:
    """OR-Tools' objective of routes given as job lists per duty (they are never late)."""
    served = {k for route in routes for k in route}
    total = sum(job.penalty for k, job in enumerate(problem.jobs) if k not in served)
    for duty, route in zip(problem.duties, routes, strict=False):
        if route:
            nodes = [duty.node, *(problem.jobs[k].node for k in route), duty.node]
            total += duty.fixed_cost + sum(problem.distance_m[a][b] for a, b in pairwise(nodes))
    return total


def _flat(problem: Problem) -> np.ndarray:
    """The locked runs as start routes (jobs then -1 per duty), room for every job."""
    per_duty: list[list[int]] = [[] for _ in problem.duties]
    for run in problem.locked:
        per_duty[run.duty] += run.jobs
    flat = [k for route in per_duty for k in (*route, -1)]
    out = np.full(len(problem.jobs) + len(problem.duties), -1, dtype=np.int32)
    out[: len(flat)] = flat
    return out


def _split(flat: list[int], duties: int) -> list[list[int]]:
    """The first `duties` routes written as jobs then -1 (the rest of the buffer is stale)."""
    routes: list[list[int]] = [[]]
    for k in flat:
        if k >= 0:
            routes[-1].append(k)
        elif len(routes) == duties:
            break
        else:
            routes.append([])
    return routes


def _instance(problem: Problem, a: dict[str, np.ndarray]) -> Inst:
    """The C structure over the arrays (which must outlive it: it holds their addresses)."""
    sizes = (len(problem.locations), len(problem.duties), len(problem.jobs))
    return Inst(*sizes, *(_ptr(a[name], kind) for name, kind in Inst._fields_[3:-2]))


def _ptr(array: np.ndarray, kind: type[ctypes._Pointer]) -> ctypes._Pointer:  # type: ignore[type-arg]
    return array.ctypes.data_as(kind)


def _arrays(problem: Problem) -> dict[str, np.ndarray]:
    """The problem as flat C arrays; times and costs exactly as the OR-Tools model has them."""
    i64, i32 = np.int64, np.int32
    # One travel matrix per distinct speed (one in all when travel times are given).
    classes: dict[float, int] = {}
    shapes: dict[tuple[object, ...], int] = {}
    travel, duty_class = [], []
    for duty in problem.duties:
        key = 0.0 if problem.travel_min is not None else duty.speed_kmh
        if key not in classes:
            classes[key] = len(classes)
            travel.append(problem.travel_matrix(duty))
        duty_class.append(classes[key])
    shape = [shapes.setdefault((*duty_shape(d), d.skills), len(shapes)) for d in problem.duties]
    allowed = np.zeros((len(problem.jobs), len(problem.duties)), dtype=np.uint8)
    for k, job in enumerate(problem.jobs):
        allowed[k, list(job.allowed)] = 1
    locked = np.zeros(len(problem.jobs), dtype=np.uint8)
    for run in problem.locked:
        locked[list(run.jobs)] = 1
    duties, jobs = problem.duties, problem.jobs
    return {
        "dist": np.ascontiguousarray(problem.distance_m, dtype=i64),
        "travel": np.ascontiguousarray(travel, dtype=i64),
        "service": np.ascontiguousarray(problem.service_min, dtype=i64),
        "duty_node": np.array([d.node for d in duties], dtype=i32),
        "duty_class": np.array(duty_class, dtype=i32),
        "duty_shape": np.array(shape, dtype=i32),
        "duty_start": np.array([d.start_min for d in duties], dtype=i64),
        # OR-Tools' time dimension ends at the horizon, whatever the shift says.
        "duty_end": np.array([min(d.end_min, problem.horizon_min) for d in duties], dtype=i64),
        "duty_cap": np.array([(d.capacity_kg, d.capacity_l) for d in duties], dtype=i64),
        "duty_fixed": np.array([d.fixed_cost for d in duties], dtype=i64),
        "job_node": np.array([j.node for j in jobs], dtype=i32),
        "job_open": np.array([j.window[0] for j in jobs], dtype=i64),
        # A soft deliver_by counts as the deadline here: the start routes are never late, and
        # OR-Tools may still trade lateness for distance from them.
        "job_close": np.array(
            [min(j.window[1], _due(j), problem.horizon_min) for j in jobs],
            dtype=i64,
        ),
        "job_dem": np.array([(j.weight_kg, j.volume_l) for j in jobs], dtype=i64),
        "job_penalty": np.array([j.penalty for j in jobs], dtype=i64),
        "allowed": allowed,
        "locked": locked,
    }


def _due(job: Job) -> int:
    return job.window[1] if job.due_min is None else job.due_min
