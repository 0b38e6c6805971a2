"""The production Kafka ACL set as data, and applying it to a broker with the aiokafka admin client.

One principal per service: each may read what it consumes, write what it produces and describe the
project's topics (so start-up topic checks find them and create nothing); nothing else. Only the
gate writes releases; only operators write decisions and submitted orders; the parser and planner
additionally carry explicit DENY entries on the decision and release topics, which win over any
ALLOW added later by mistake. The signed-decision, release and audit topics are kept forever
(schemas.topics): every principal is explicitly denied changing their configuration (retention),
deleting them or their records, and adding partitions, so only the broker's super user (ACLs do
not apply to it) can.
deploy/kafka/acls.md shows this set as a table (`markdown_table`).

aiokafka 0.14's admin client has no create/describe ACL methods, but its protocol module defines
the CreateAcls and DescribeAcls requests (v1, which Kafka 4 still serves); they are sent through the
admin client's connection, so no Kafka tools jar is needed.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest_v1, DescribeAclsRequest
from aiokafka.protocol.api import Request

from schemas.topics import Topic


class ResourceType(IntEnum):
    """Kafka's resource type codes (org.apache.kafka.common.resource.ResourceType)."""

    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5


class PatternType(IntEnum):
    """Kafka's resource pattern type codes."""

    ANY = 1
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    """Kafka's ACL operation codes (org.apache.kafka.common.acl.AclOperation)."""

    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12


class Permission(IntEnum):
    """Kafka's ACL permission codes."""

    ANY = 1
    DENY = 2
    ALLOW = 3


CLUSTER = "kafka-cluster"  # the one name a CLUSTER resource has


@dataclass(frozen=True, order=True)
class Acl:
    """One ACL binding: `principal` may (or may not) do `operation` on the resource."""

    principal: str
    resource_type: ResourceType
    name: str
    pattern: PatternType
    operation: Operation
    permission: Permission = Permission.ALLOW
    host: str = "*"

    @property
    def kafka_principal(self) -> str:
        """The principal as the broker names it."""
        return f"User:{self.principal}"


PARSER = "qm-parser"
PLANNER = "qm-planner"
GATE = "qm-gate"
OPERATOR = "qm-operator"
ADMIN = "qm-admin"
PRINCIPALS = (PARSER, PLANNER, GATE, OPERATOR, ADMIN)


def project_topics() -> list[str]:
    """Every topic the system uses, dead-letter topics included."""
    return [t.value for t in Topic] + [t.dlq for t in Topic]


def protected_topics() -> list[str]:
    """The history people answer for (signed decisions, releases, the audit trail): no principal
    may shorten, delete or reshape it."""
    return [t.value for t in Topic if t.kept_forever]


# ALTER_CONFIGS would let retention delete the history, DELETE removes the topic or its records
# (DeleteRecords), ALTER adds partitions (a second audit partition breaks the single hash chain).
PROTECTED_OPERATIONS = (Operation.ALTER_CONFIGS, Operation.DELETE, Operation.ALTER)


@dataclass(frozen=True)
class Grant:
    """What one principal needs, in service terms."""

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    describe_groups: tuple[str, ...] = ()
    denied_writes: tuple[str, ...] = ()
    cluster: tuple[Operation, ...] = ()
    manage_topics: bool = False


def grants(parser_group: str = PARSER, planner_group: str = PLANNER) -> dict[str, Grant]:
    """Each principal's grant; the groups are the services' default consumer group ids."""
    decided, released = Topic.PLANS_DECIDED.value, Topic.PLANS_RELEASED.value
    reviewed = Topic.ORDERS_REVIEWED.value
    return {
        PARSER: Grant(
            # Held and reviewed orders are read back when a signed review arrives.
            reads=(
                Topic.ORDERS_SUBMITTED.value,
                reviewed,
                Topic.ORDERS_REJECTED.value,
                Topic.ORDERS_PARSED.value,
            ),
            writes=(
                Topic.ORDERS_PARSED.value,
                Topic.ORDERS_REJECTED.value,
                Topic.ORDERS_SUBMITTED.dlq,
                Topic.ORDERS_REVIEWED.dlq,
            ),
            groups=(parser_group, f"{parser_group}-reviews"),
            # Nothing the parser (or its model) says can review, approve or release.
            denied_writes=(decided, released, reviewed),
        ),
        PLANNER: Grant(
            # Proposals are read back at start so an order is never planned twice; releases and
            # the gate's outcomes steer re-planning; the fleet state and closed areas are read
            # whole at every start and followed.
            reads=(
                Topic.ORDERS_PARSED.value,
                Topic.PLANS_PROPOSED.value,
                Topic.PLANS_RELEASED.value,
                Topic.AUDIT_EVENTS.value,
                Topic.FLEET_REPORTED.value,
                Topic.ZONES_DECLARED.value,
            ),
            writes=(
                Topic.PLANS_PROPOSED.value,
                Topic.PLANS_DISRUPTED.value,
                Topic.ORDERS_PARSED.dlq,
                Topic.FLEET_REPORTED.dlq,
                Topic.ZONES_DECLARED.dlq,
            ),
            groups=(planner_group,),
            denied_writes=(decided, released),
        ),
        GATE: Grant(
            # No consumer group: the gate reads its topics whole at every start, the theater's
            # state topics too (a stranded release may move; no plan may cross a closed area).
            reads=(
                Topic.PLANS_PROPOSED.value,
                decided,
                released,
                Topic.AUDIT_EVENTS.value,
                Topic.FLEET_REPORTED.value,
                Topic.ZONES_DECLARED.value,
            ),
            writes=(
                released,
                Topic.AUDIT_EVENTS.value,
                Topic.PLANS_PROPOSED.dlq,
                Topic.PLANS_DECIDED.dlq,
                Topic.PLANS_RELEASED.dlq,
            ),
        ),
        OPERATOR: Grant(
            # The qm CLI: submits orders, signs decisions, reports vehicles and closed areas,
            # reads the plan ledger, disruptions and audit trail, and shows the services'
            # consumer-group lag (qm status).
            reads=(
                Topic.PLANS_PROPOSED.value,
                decided,
                released,
                Topic.AUDIT_EVENTS.value,
                Topic.ORDERS_REJECTED.value,
                reviewed,
                Topic.FLEET_REPORTED.value,
                Topic.ZONES_DECLARED.value,
                Topic.PLANS_DISRUPTED.value,
            ),
            writes=(
                Topic.ORDERS_SUBMITTED.value,
                decided,
                reviewed,
                Topic.FLEET_REPORTED.value,
                Topic.ZONES_DECLARED.value,
            ),
            describe_groups=(parser_group, planner_group),
            denied_writes=(released,),
        ),
        ADMIN: Grant(
            # Creates and inspects topics (qm topics create, qm status); reads and writes no
            # data and cannot change ACLs: that needs the broker's super user.
            describe_groups=(parser_group, planner_group),
            cluster=(Operation.DESCRIBE, Operation.DESCRIBE_CONFIGS),
            manage_topics=True,
        ),
    }


def _topic(principal: str, name: str, op: Operation, perm: Permission = Permission.ALLOW) -> Acl:
    return Acl(principal, ResourceType.TOPIC, name, PatternType.LITERAL, op, perm)


def acls_for(principal: str, grant: Grant) -> list[Acl]:
    """The ACL bindings that implement one grant."""
    out: list[Acl] = [_topic(principal, t, Operation.DESCRIBE) for t in project_topics()]
    out += [_topic(principal, t, Operation.READ) for t in grant.reads]
    out += [_topic(principal, t, Operation.WRITE) for t in grant.writes]
    out += [_topic(principal, t, Operation.WRITE, Permission.DENY) for t in grant.denied_writes]
    for group in grant.groups:
        out.append(Acl(principal, ResourceType.GROUP, group, PatternType.LITERAL, Operation.READ))
    for group in grant.describe_groups:
        out.append(
            Acl(principal, ResourceType.GROUP, group, PatternType.LITERAL, Operation.DESCRIBE)
        )
    for op in grant.cluster:
        out.append(Acl(principal, ResourceType.CLUSTER, CLUSTER, PatternType.LITERAL, op))
    if grant.manage_topics:
        for t in project_topics():
            out += [
                _topic(principal, t, Operation.CREATE),
                _topic(principal, t, Operation.DESCRIBE_CONFIGS),
            ]
            if t not in protected_topics():
                out.append(_topic(principal, t, Operation.ALTER_CONFIGS))
    # For every principal, whatever its grant: an ALLOW added later by mistake still loses.
    out += [
        _topic(principal, t, op, Permission.DENY)
        for t in protected_topics()
        for op in PROTECTED_OPERATIONS
    ]
    return out


def production_acls(
    parser_group: str = PARSER, planner_group: str = PLANNER
) -> dict[str, list[Acl]]:
    """principal → its ACL bindings: the complete production set."""
    return {p: acls_for(p, g) for p, g in grants(parser_group, planner_group).items()}


def all_acls(acls: Mapping[str, list[Acl]] | None = None) -> list[Acl]:
    """Every binding of a set, in a stable order."""
    acls = production_acls() if acls is None else acls
    return sorted(acl for entries in acls.values() for acl in entries)


def allowed(acls: Iterable[Acl], principal: str, op: Operation, topic: str) -> bool:
    """What the broker would decide for a literal topic: some ALLOW and no DENY (ALL counts)."""
    matching = [
        a
        for a in acls
        if a.principal == principal
        and a.resource_type is ResourceType.TOPIC
        and (a.name == topic if a.pattern is PatternType.LITERAL else topic.startswith(a.name))
        and a.operation in (op, Operation.ALL)
    ]
    if any(a.permission is Permission.DENY for a in matching):
        return False
    return any(a.permission is Permission.ALLOW for a in matching)


def _ops_on_topics(
    topics: list[Acl], permission: Permission, ops: Iterable[Operation]
) -> list[str]:
    """Phrases "OP, OP on <topics>", one per distinct topic list; "every project topic [except]"."""
    wanted = set(ops)
    by_op: dict[Operation, list[str]] = {}
    for a in topics:
        if a.permission is permission and a.operation in wanted:
            by_op.setdefault(a.operation, []).append(a.name)
    by_names: dict[tuple[str, ...], list[str]] = {}
    for op, op_topics in sorted(by_op.items()):
        by_names.setdefault(tuple(op_topics), []).append(op.name)
    phrases = []
    for names, op_names in by_names.items():
        missing = [t for t in project_topics() if t not in names]
        if not missing:
            where = "every project topic"
        elif len(missing) < len(names):
            where = "every project topic except " + ", ".join(f"`{n}`" for n in missing)
        else:
            where = ", ".join(f"`{n}`" for n in names)
        phrases.append(f"{', '.join(op_names)} on {where}")
    return phrases


def markdown_table(acls: Mapping[str, list[Acl]] | None = None) -> str:
    """The topic/group/cluster permissions per principal as a Markdown table (deploy/kafka/acls.md).

    Every principal also has DESCRIBE on every project topic; that column is left out.
    """
    acls = production_acls() if acls is None else acls
    lines = [
        "| principal | READ topics | WRITE topics | DENY WRITE topics | groups | administration "
        "| DENY administration |",
        "|---|---|---|---|---|---|---|",
    ]

    def cell(items: Iterable[str]) -> str:
        return ", ".join(f"`{i}`" for i in items) or "—"

    managing = (Operation.CREATE, Operation.ALTER_CONFIGS, Operation.DESCRIBE_CONFIGS)
    for principal, entries in acls.items():
        topics = [a for a in entries if a.resource_type is ResourceType.TOPIC]
        reads = [a.name for a in topics if a.operation is Operation.READ]
        writes = [
            a.name
            for a in topics
            if a.operation is Operation.WRITE and a.permission is Permission.ALLOW
        ]
        denied = [
            a.name
            for a in topics
            if a.operation is Operation.WRITE and a.permission is Permission.DENY
        ]
        groups = [
            f"{a.name} ({a.operation.name})"
            for a in entries
            if a.resource_type is ResourceType.GROUP
        ]
        admin = []
        cluster = [a.operation.name for a in entries if a.resource_type is ResourceType.CLUSTER]
        if cluster:
            admin.append("cluster " + ", ".join(cluster))
        admin += _ops_on_topics(topics, Permission.ALLOW, managing)
        denied_admin = _ops_on_topics(
            topics, Permission.DENY, (op for op in Operation if op is not Operation.WRITE)
        )
        lines.append(
            f"| `{principal}` | {cell(reads)} | {cell(writes)} | {cell(denied)} | {cell(groups)} "
            f"| {'; '.join(admin) or '—'} | {'; '.join(denied_admin) or '—'} |"
        )
    return "\n".join(lines)


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
    """CreateAcls v1 carrying many bindings (aiokafka's own builder sends one per request)."""

    API_KEY = 30

    def __init__(self, creations: list[tuple[int, str, int, str, str, int, int]]) -> None:
        self._creations = creations

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> Any:
        return request_struct_class(self._creations)


def _admin(
    bootstrap: str, username: str, password: str, ssl_context: ssl.SSLContext | None
) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="qm-acls",
        request_timeout_ms=15_000,
        security_protocol="SASL_PLAINTEXT" if ssl_context is None else "SASL_SSL",
        ssl_context=ssl_context,
        sasl_mechanism="PLAIN",
        sasl_plain_username=username,
        sasl_plain_password=password,
    )


async def apply_acls(
    bootstrap: str,
    admin_user: str,
    admin_password: str,
    acls: Mapping[str, list[Acl]] | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
    wait_s: float = 30.0,
) -> int:
    """Create the bindings (idempotent: existing ones are kept); return how many there are.

    `admin_user` must be allowed to ALTER the cluster, i.e. the broker's super user; SASL/PLAIN
    over SASL_PLAINTEXT, or over SASL_SSL when `ssl_context` is given.
    """
    bindings = all_acls(acls)
    creations = [
        (
            int(a.resource_type),
            a.name,
            int(a.pattern),
            a.kafka_principal,
            a.host,
            int(a.operation),
            int(a.permission),
        )
        for a in bindings
    ]
    admin = _admin(bootstrap, admin_user, admin_password, ssl_context)
    await admin.start()
    try:
        response = await admin._send_request(_CreateAcls(creations))
    finally:
        await admin.close()
    failures = [
        f"{binding}: {for_code(code).__name__} {message or ''}".rstrip()
        for binding, (code, message) in zip(bindings, response.creation_responses, strict=True)
        if code != 0
    ]
    if failures:
        raise RuntimeError("the broker refused ACLs:\n" + "\n".join(failures))
    # CreateAcls returns once the controller committed them; the broker's authorizer applies them
    # a moment later. Return only when the broker shows (and so enforces) every binding.
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        missing = set(bindings) - set(
            await describe_acls(bootstrap, admin_user, admin_password, ssl_context=ssl_context)
        )
        if not missing:
            return len(bindings)
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{len(missing)} ACLs not visible on the broker after {wait_s}s")
        await asyncio.sleep(0.2)


async def describe_acls(
    bootstrap: str,
    admin_user: str,
    admin_password: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> list[Acl]:
    """Every ACL binding the broker holds, sorted."""
    admin = _admin(bootstrap, admin_user, admin_password, ssl_context)
    await admin.start()
    try:
        response = await admin._send_request(
            DescribeAclsRequest(
                int(ResourceType.ANY),
                None,
                int(PatternType.ANY),
                None,
                None,
                int(Operation.ANY),
                int(Permission.ANY),
            )
        )
    finally:
        await admin.close()
    if response.error_code != 0:
        raise for_code(response.error_code)(response.error_message)
    found: list[Acl] = []
    for resource_type, name, pattern, entries in response.resources:
        for principal, host, operation, permission in entries:
            found.append(
                Acl(
                    principal.removeprefix("User:"),
                    ResourceType(resource_type),
                    name,
                    PatternType(pattern),
                    Operation(operation),
                    Permission(permission),
                    host,
                )
            )
    return sorted(found)
