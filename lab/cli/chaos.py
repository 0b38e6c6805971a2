"""`qm chaos`: fault injection on a real broker, checked by an oracle.

Starts its own Kafka broker (free ports, temp state dir) and the parser (rules backend), planner
and gate as processes; publishes N unique orders for the demo scenario in waves; an approver loop
signs honest approvals for every proposed plan with the trusted operators' keys. At points chosen
by progress (outcomes read back, not the clock) it kill -9's parser, planner and gate in turn and
restarts them, and once kill -9's the broker and restarts it on the same state dir. A planner is
killed the moment a plan appears on plans.proposed.v1, before its commit has had a chance.

The oracle, read back from the topics at the end: every order has exactly one outcome (parsed or
rejected), no order is in two plans unless one supersedes the other (re-planning carries a plan's
orders into its revision), no plan is released twice, every release carries approvals
that verify against the trust store. `--no-dedupe` starts the planner without its restart
deduplication to show the oracle catches duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import combinations
from pathlib import Path
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.table import Table

from lab.supervisor import Supervisor
from schemas.envelope import content_id, utcnow
from schemas.orders import OrderParsed, OrderRejected, OrderSubmitted
from schemas.plans import PlanDecided, PlanProposed, PlanReleased, superseded_plans
from schemas.topics import Topic
from services.cli.context import console
from services.common.codec import DecodeError, decode, encode
from services.common.kafka import ensure_topics, read_topics
from services.common.scenario import Scenario, load_scenario
from services.common.settings import CommonSettings
from services.common.signing import (
    TrustStore,
    load_private,
    load_verified_store,
    sign_decision,
    verify_approval,
)
from services.gate.rules import approvals_required

REPO = Path(__file__).resolve().parents[2]
# Polls (about a second each) without change before a run with open plans counts as over; the
# approver re-sends every 30 s, so this outlasts one retry.
QUIET_TICKS_WITH_OPEN_PLANS = 45
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
QM = str(Path(sys.executable).parent / "qm")
SERVICES = ("parser", "planner", "gate")
APPROVERS = ("duty-officer", "second-officer")
PLACES = (
    "FOB Halcyon",
    "FOB Bramble",
    "COP Wren",
    "COP Anchor",
    "Saint Ilse Field Hospital",
    "Corvetta",
    "Solane",
    "Pietrafina",
)
MAX_BYTES = 1 << 22


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Outcome:
    """What the oracle found, plus what the harness did."""

    orders: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    broker_restarts: int = 0
    lost: int = 0
    both: int = 0
    unplanned: int = 0
    duplicate_proposals: int = 0
    plans: int = 0
    revisions: int = 0
    releases: int = 0
    unreleased: int = 0
    duplicate_releases: int = 0
    unverified_releases: int = 0
    seconds: float = 0.0

    @property
    def failures(self) -> int:
        """Sum of the oracle counts that must be zero."""
        return (
            self.lost
            + self.both
            + self.duplicate_proposals
            + self.duplicate_releases
            + self.unverified_releases
        )

    def table(self, dedupe: bool) -> Table:
        """The run as a table for humans."""
        title = "qm chaos: real broker, kill -9" + ("" if dedupe else " (planner dedupe OFF)")
        table = Table(title=title)
        table.add_column("measure")
        table.add_column("value", justify="right")
        rows = [
            ("orders", self.orders),
            *((f"kills {s}", self.kills[s]) for s in SERVICES),
            ("broker restarts (kill -9)", self.broker_restarts),
            ("unexpected service exits", sum(self.crashes.values())),
            ("plans proposed", self.plans),
            ("  of them revisions superseding a plan", self.revisions),
            ("plans released", self.releases),
            ("plans not released at the end", self.unreleased),
            ("parsed orders in no plan", self.unplanned),
            ("LOST orders (no outcome)", self.lost),
            ("orders both parsed and rejected", self.both),
            ("DUPLICATE proposals (orders in 2+ unrelated plans)", self.duplicate_proposals),
            ("DUPLICATE releases", self.duplicate_releases),
            ("UNVERIFIED releases", self.unverified_releases),
            ("seconds", f"{self.seconds:.0f}"),
        ]
        for name, value in rows:
            table.add_row(name, str(value))
        return table


@dataclass
class Seen:
    """One read of every output topic."""

    parsed: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    plans: dict[str, PlanProposed] = field(default_factory=dict)
    releases: list[PlanReleased] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Orders with at least one outcome."""
        return len(self.parsed | self.rejected)

    @property
    def superseded(self) -> set[str]:
        """Plans a later proposal replaced: closed to decisions, never released."""
        return {p.supersedes for p in self.plans.values() if p.supersedes is not None}


async def _read(bootstrap: str) -> Seen:
    topics = (
        Topic.ORDERS_PARSED,
        Topic.ORDERS_REJECTED,
        Topic.PLANS_PROPOSED,
        Topic.PLANS_RELEASED,
    )
    seen = Seen()
    for record in await read_topics(bootstrap, [t.value for t in topics], timeout_s=30):
        with contextlib.suppress(DecodeError):
            if record.topic == Topic.ORDERS_PARSED.value:
                seen.parsed.add(decode(OrderParsed, record.value, MAX_BYTES).order_id)
            elif record.topic == Topic.ORDERS_REJECTED.value:
                seen.rejected.add(decode(OrderRejected, record.value, MAX_BYTES).order_id)
            elif record.topic == Topic.PLANS_PROPOSED.value:
                plan = decode(PlanProposed, record.value, MAX_BYTES)
                seen.plans[plan.plan_id] = plan
            elif record.topic == Topic.PLANS_RELEASED.value:
                seen.releases.append(decode(PlanReleased, record.value, MAX_BYTES))
    return seen


async def _publish(bootstrap: str, messages: list[tuple[Topic, bytes, str]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic.value, value, key=key.encode())
            for topic, value, key in messages
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _wait_for_plan(bootstrap: str, limit_s: float) -> bool:
    """Block until a new record lands on plans.proposed.v1 (long-poll, milliseconds)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        numbers = consumer.partitions_for_topic(Topic.PLANS_PROPOSED.value) or set()
        partitions = [TopicPartition(Topic.PLANS_PROPOSED.value, n) for n in sorted(numbers)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=50)
            if any(batch.values()):
                return True
        return False
    finally:
        await consumer.stop()


def order_text(i: int, rng: random.Random, tag: str) -> str:
    """A unique order the rules parser understands, for the demo scenario."""
    place = PLACES[i % len(PLACES)]
    return (
        f"{tag}-{i:06d}: send {rng.randint(1, 6)} pallets of bottled water to {place} within 30 hrs"
    )


class Harness:
    """The broker, the services, the keys and the bookkeeping of one chaos run."""

    def __init__(self, orders: int, kills: int, dedupe: bool, seed: int, workdir: Path) -> None:
        self.n, self.k, self.dedupe = orders, kills, dedupe
        self.rng = random.Random(seed)  # noqa: S311 - load shape, not security
        self.run_id = uuid.uuid4().hex[:8]
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True)
        port, controller = _free_port(), _free_port()
        while controller == port:
            controller = _free_port()
        self.bootstrap = f"127.0.0.1:{port}"
        self.kafka_env = {
            k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP", "QM_KAFKA_SASL")
        }
        self.kafka_env.update(
            QM_KAFKA_PORT=str(port),
            QM_KAFKA_CONTROLLER_PORT=str(controller),
            QM_KAFKA_STATE_DIR=str(workdir / "kafka"),
        )
        self.state = workdir / "state"
        self.scenario = load_scenario(REPO / "deploy" / "scenarios" / "demo.yaml").scenario
        self.trust = TrustStore()
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "QM_STATE_DIR": str(self.state),
            "QM_SCENARIO": str(REPO / "deploy" / "scenarios" / "demo.yaml"),
            "QM_PARSER_GROUP_ID": f"chaos-parser-{self.run_id}",
            "QM_PLANNER_GROUP_ID": f"chaos-planner-{self.run_id}",
            "QM_PARSER_BACKEND": "rules",
            "QM_PLANNER_BATCH_WINDOW_S": "3",
            "QM_PLANNER_BATCH_MAX_ORDERS": "50",
            "QM_PLANNER_TIME_LIMIT_S": "1",
            "QM_PLANNER_DEDUPE": "true" if dedupe else "false",
            "QM_GATE_PLAN_WAIT_S": "2",
            "QM_PARSER_METRICS_PORT": "0",
            "QM_PLANNER_METRICS_PORT": "0",
            "QM_GATE_METRICS_PORT": "0",
            "QM_LOG_LEVEL": "INFO",
        }
        self.services = Supervisor(self.env, self.logs)
        self.outcome = Outcome(orders=orders)
        self.submitted: list[str] = []
        self.approved: dict[str, float] = {}  # plan id -> when approvals were last sent
        self.attempts: Counter[str] = Counter()
        self.keys: dict[str, Ed25519PrivateKey] = {}

    # -- broker -----------------------------------------------------------------------------

    def kafka(self, command: str) -> None:
        """deploy/kafka/kafka.sh <command> on this run's own broker."""
        result = subprocess.run(
            ["bash", str(KAFKA_SH), command],
            env=self.kafka_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        (self.logs / "kafka-sh.log").open("a").write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(f"kafka.sh {command} failed:\n{result.stdout}\n{result.stderr}")

    def kill_broker(self) -> None:
        """kill -9 the broker and start it again on the same state dir."""
        pid_file = self.workdir / "kafka" / "kafka.pid"
        pid = int(pid_file.read_text().strip())
        console.print(f"[bold red]kill -9 broker[/] (pid {pid})")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        time.sleep(2)  # clients notice and start retrying
        self.kafka("start")
        self.outcome.broker_restarts += 1

    # -- services ---------------------------------------------------------------------------

    def qm(self, *args: str) -> None:
        """The qm CLI, as an operator would run it."""
        subprocess.run(
            [QM, *args], cwd=REPO, env=self.env, capture_output=True, timeout=120, check=True
        )

    def start(self, service: str) -> None:
        """`python -m services.<service>` with the run's environment."""
        self.services.start(service)

    def kill(self, service: str) -> None:
        """SIGKILL a service and start it again."""
        self.services.kill(service)
        self.outcome.kills[service] += 1
        console.print(f"[red]kill -9 {service}[/] (#{self.outcome.kills[service]})")
        time.sleep(0.5)
        self.start(service)

    def revive(self) -> None:
        """Restart any service that exited on its own (counted, not hidden)."""
        for service, code in self.services.exited().items():
            self.outcome.crashes[service] += 1
            console.print(f"[yellow]{service} exited ({code}); restarting[/]")
            self.start(service)

    def stop_services(self) -> None:
        """Terminate every service."""
        self.services.stop_all()

    # -- load and approvals -----------------------------------------------------------------

    def publish_wave(self, size: int) -> None:
        """Submit the next `size` orders."""
        start = len(self.submitted)
        batch = []
        for i in range(start, min(self.n, start + size)):
            order_id = f"chaos-{self.run_id}-{i:06d}"
            message = OrderSubmitted(
                message_id=content_id("msg", order_id),
                occurred_at=utcnow(),
                order_id=order_id,
                text=order_text(i, self.rng, f"CH{self.run_id}"),
                submitted_by="chaos-load",
            )
            batch.append((Topic.ORDERS_SUBMITTED, encode(message), order_id))
        asyncio.run(_publish(self.bootstrap, batch))
        self.submitted += [key for _, _, key in batch]

    def approve(self, seen: Seen) -> None:
        """Honest approvals for open plans (not released, not superseded); re-sent if stuck."""
        closed = {r.plan_id for r in seen.releases} | seen.superseded
        now = time.monotonic()
        out = []
        for plan in seen.plans.values():
            if plan.plan_id in closed:
                continue
            if plan.plan_id in self.approved and now - self.approved[plan.plan_id] < 30:
                continue
            self.attempts[plan.plan_id] += 1
            needed = approvals_required(plan, self.scenario, self.trust, utcnow())
            for operator in APPROVERS[:needed]:
                decision = self._decide(plan, operator, self.attempts[plan.plan_id])
                out.append((Topic.PLANS_DECIDED, encode(decision), plan.plan_id))
            self.approved[plan.plan_id] = now
        if out:
            asyncio.run(_publish(self.bootstrap, out))

    def _decide(self, plan: PlanProposed, operator: str, attempt: int) -> PlanDecided:
        if operator not in self.keys:
            self.keys[operator] = load_private(self.state / "keys" / f"{operator}.pem")
        now = utcnow()
        unsigned = PlanDecided(
            message_id=content_id("chaos-dec", plan.plan_id, operator, attempt),
            occurred_at=now,
            plan_id=plan.plan_id,
            plan_hash=plan.plan_hash,
            decision="approve",
            operator_id=operator,
            role="approver",
            reason="qm chaos approver",
            decided_at=now,
            expires_at=now + timedelta(hours=1),
        )
        return sign_decision(unsigned, self.keys[operator])

    # -- the run ----------------------------------------------------------------------------

    def run(self, limit_s: float) -> Outcome:
        """Drive the load, inject the faults, wait until quiet, judge."""
        began = time.monotonic()
        self.kafka("start")
        try:
            asyncio.run(ensure_topics(self.bootstrap, CommonSettings().partitions))
            secret = self.state / "admin.passphrase"  # a throwaway administrator for this run
            secret.parent.mkdir(parents=True, exist_ok=True)
            secret.write_text(uuid.uuid4().hex)
            self.qm("keys", "admin-init", "--passphrase-file", str(secret))
            for operator in APPROVERS:
                self.qm("keys", "create", "--operator", operator)
            self.qm("keys", "sign-store", "--yes", "--passphrase-file", str(secret))
            self.trust = TrustStore.load(self.state / "trust" / "operators.json")
            for service in SERVICES:
                self.start(service)
            self._drive(began + limit_s)
            self._judge()
        finally:
            self.stop_services()
            self.kafka("stop")
        self.outcome.seconds = time.monotonic() - began
        return self.outcome

    def _schedule(self) -> list[tuple[int, str]]:
        """(outcomes reached, target): K service kills spread evenly, the broker once midway."""
        offset = self.rng.randrange(3)
        targets = [SERVICES[(i + offset) % 3] for i in range(self.k)]
        points = [(self.n * (i + 1)) // (self.k + 1) for i in range(self.k)]
        events = list(zip(points, targets, strict=True))
        broker_at = (self.n * (2 * (self.k // 2) + 1)) // (2 * (self.k + 1))
        events.append((max(1, broker_at), "broker"))
        return sorted(events, key=lambda e: e[0])

    def _drive(self, deadline: float) -> None:
        events = self._schedule()
        wave = max(20, self.n // (2 * (self.k + 2)))
        self.publish_wave(wave)
        quiet = 0
        last: Seen | None = None
        while time.monotonic() < deadline:
            self.revive()
            try:
                seen = asyncio.run(_read(self.bootstrap))
            except Exception as err:  # broker briefly unreachable: try again next tick
                console.print(f"[yellow]read failed ({type(err).__name__}); retrying[/]")
                time.sleep(1)
                continue
            done = len((seen.parsed | seen.rejected) & set(self.submitted))
            if len(self.submitted) < self.n and done >= len(self.submitted) - wave // 2:
                self.publish_wave(wave)
            self.approve(seen)
            while events and done >= events[0][0]:
                _, target = events.pop(0)
                self._inject(target)
            settled = (
                not events
                and len(self.submitted) == self.n
                and done == self.n
                and self._planned(seen) >= seen.parsed & set(self.submitted)
            )
            closed = set(seen.plans) <= {r.plan_id for r in seen.releases} | seen.superseded
            same = last is not None and (
                len(last.plans),
                len(last.releases),
                last.done,
            ) == (len(seen.plans), len(seen.releases), seen.done)
            quiet = quiet + 1 if settled and same else 0
            # Every plan closed: done. A plan the gate refuses for good (e.g. a duplicate that
            # reuses released orders, with --no-dedupe) stays open: done after a long quiet.
            if quiet >= (3 if closed else QUIET_TICKS_WITH_OPEN_PLANS):
                return
            last = seen
            console.print(
                f"submitted {len(self.submitted)}/{self.n}  outcomes {done}  "
                f"plans {len(seen.plans)}  releases {len(seen.releases)}",
                highlight=False,
            )
            time.sleep(1)
        console.print("[yellow]time limit reached before the run went quiet[/]")

    @staticmethod
    def _planned(seen: Seen) -> set[str]:
        return {o for p in seen.plans.values() for o in p.order_ids}

    def _inject(self, target: str) -> None:
        if target == "broker":
            self.kill_broker()
        elif target == "planner":
            # Kill the moment a plan appears: between its publish and its offset commit.
            appeared = asyncio.run(_wait_for_plan(self.bootstrap, 20))
            self.kill("planner")
            if not appeared:
                console.print("[yellow]no plan appeared within 20 s; planner killed anyway[/]")
        else:
            self.kill(target)

    def _judge(self) -> None:
        seen = asyncio.run(_read(self.bootstrap))
        ids = set(self.submitted)
        o = self.outcome
        o.lost = len(ids - seen.parsed - seen.rejected) + (self.n - len(ids))
        o.both = len(ids & seen.parsed & seen.rejected)
        o.duplicate_proposals = duplicate_proposals(seen.plans, ids)
        planned = {x for p in seen.plans.values() for x in p.order_ids}
        o.unplanned = len((seen.parsed & ids) - planned)
        o.plans = len(seen.plans)
        o.revisions = sum(1 for p in seen.plans.values() if p.supersedes is not None)
        by_plan = Counter(r.plan_id for r in seen.releases)
        o.releases = len(by_plan)
        o.duplicate_releases = sum(1 for n in by_plan.values() if n > 1)
        o.unreleased = len(set(seen.plans) - set(by_plan) - seen.superseded)
        settings = CommonSettings(state_dir=self.state)
        store = load_verified_store(settings.trust_store, settings.admin_public_key)
        o.unverified_releases = sum(
            1
            for r in seen.releases
            if not _verified(r, seen.plans.get(r.plan_id), store, self.scenario)
        )


def duplicate_proposals(plans: dict[str, PlanProposed], ids: set[str]) -> int:
    """Orders in two plans of which neither supersedes the other, directly or through others.

    A revision carries its predecessor's orders on purpose (re-planning); any other second
    plan for an order is a duplicate.
    """

    ancestors = {plan_id: set(superseded_plans(plan, plans)) for plan_id, plan in plans.items()}
    holders: dict[str, list[str]] = {}
    for plan_id, plan in plans.items():
        for order_id in plan.order_ids:
            if order_id in ids:
                holders.setdefault(order_id, []).append(plan_id)
    return sum(
        1
        for held in holders.values()
        if any(a not in ancestors[b] and b not in ancestors[a] for a, b in combinations(held, 2))
    )


def _verified(
    release: PlanReleased, proposed: PlanProposed | None, store: TrustStore, scenario: Scenario
) -> bool:
    """The release is of a proposed plan, unchanged, with enough approvals that all verify."""
    if proposed is None or proposed.plan_hash != release.plan_hash:
        return False
    operators = set()
    for approval in release.approvals:
        key = store.keys.get(approval.key_id)
        if key is None or key.operator_id != approval.operator_id:
            return False
        if "approver" not in key.roles or not verify_approval(release, approval, key):
            return False
        operators.add(approval.operator_id)
    return len(operators) >= approvals_required(release.plan, scenario, store, release.occurred_at)


def run_chaos(
    orders: int, kills: int, dedupe: bool = True, seed: int = 0, limit_s: float = 1800
) -> tuple[Outcome, Path]:
    """One chaos run in a fresh temp dir; returns the outcome and the dir (logs kept)."""
    workdir = Path(tempfile.mkdtemp(prefix="qm-chaos-"))
    harness = Harness(orders, kills, dedupe, seed, workdir)
    return harness.run(limit_s), workdir


def chaos(
    orders: Annotated[int, typer.Option(help="Orders to push through.", min=1)] = 1000,
    kills: Annotated[
        int, typer.Option(help="kill -9 of parser/planner/gate, spread by progress.", min=0)
    ] = 5,
    no_dedupe: Annotated[
        bool, typer.Option("--no-dedupe", help="Planner without restart dedupe (shows the oracle).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed for kill order and order quantities.")] = 0,
    timeout: Annotated[float, typer.Option(help="Seconds before giving up on quiet.")] = 1800.0,
    keep: Annotated[bool, typer.Option(help="Keep the temp dir (logs, broker data).")] = False,
) -> None:
    """Kill -9 services and the broker under load on a real broker; the oracle must find zero."""
    outcome, workdir = run_chaos(orders, kills, not no_dedupe, seed, timeout)
    console.print(outcome.table(not no_dedupe))
    if outcome.failures or keep:
        console.print(f"logs and broker data kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if outcome.failures:
        raise typer.Exit(1)
