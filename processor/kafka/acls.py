"""The Kafka ACLs each srguard command needs, as data: printed as ``kafka-acls.sh`` lines or JSON, or applied.

Least privilege, from what each command does (processor.wiring builds its clients): ``run`` reads its input,
writes its five outputs (and reads their ``max.message.bytes``), reads as its group, and under exactly-once
writes with transactional ids ``<prefix>*`` (default ``<group>-``: one per process); with the embedded feed it
also reads the three reference topics (and checks they keep every record). ``feed`` reads the reference topics.
``replay-topic`` reads the SR topic and creates and writes its ``<output prefix>*`` topics in transactions.
``history`` (export, report, evidence, ledger build) reads what it is given. Nobody but ``feed``'s writer of the
reference data, the DSP's own publisher, may write the reference topics: they decide which certificates pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from processor.names import Topics, feed_group, replay_group, replay_transactional_id

COMMANDS = ("run", "feed", "replay-topic", "history")
HISTORY_GROUP_PREFIX = "srguard-history-"  # names.history_group(): a random suffix per read


@dataclass(frozen=True)
class Grant:
    """One ALLOW binding: ``principal`` may do ``operation`` on the ``resource`` named ``name``."""

    principal: str
    resource: str  # topic | group | transactional-id
    name: str
    operation: str  # Read | Write | Describe | DescribeConfigs | Create
    prefixed: bool = False

    def binding(self) -> AclBinding:
        kind = {
            "topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "transactional-id": ResourceType.TRANSACTIONAL_ID,
        }  # fmt: skip
        operation = {
            "Read": AclOperation.READ, "Write": AclOperation.WRITE, "Describe": AclOperation.DESCRIBE,
            "DescribeConfigs": AclOperation.DESCRIBE_CONFIGS, "Create": AclOperation.CREATE,
        }  # fmt: skip
        pattern = ResourcePatternType.PREFIXED if self.prefixed else ResourcePatternType.LITERAL
        return AclBinding(
            kind[self.resource], self.name, pattern, self.principal, "*", operation[self.operation],
            AclPermissionType.ALLOW,
        )  # fmt: skip


def _on(principal: str, resource: str, names: list[str], operations: list[str], prefixed: bool = False) -> list[Grant]:
    return [Grant(principal, resource, name, op, prefixed) for name in names for op in operations]


def grants(
    command: str,
    principal: str,
    topics: Topics,
    group_id: str,
    *,
    transactional_id_prefix: str | None = None,
    embedded_feed: bool = True,
    output_prefix: str = "replay.",
    read_topics: tuple[str, ...] = (),
) -> list[Grant]:
    """Every binding ``command`` needs, for ``principal`` (``User:name``)."""
    reference = [topics.registrations, topics.parties, topics.devices]
    if command == "run":
        found = _on(principal, "topic", [topics.requests], ["Read", "Describe"])
        found += _on(principal, "topic", list(topics.outputs()), ["Write", "Describe", "DescribeConfigs"])
        found += _on(principal, "group", [group_id], ["Read"])
        prefix = transactional_id_prefix or f"{group_id}-"
        found += _on(principal, "transactional-id", [prefix], ["Write", "Describe"], prefixed=True)
        if embedded_feed:
            found += _on(principal, "topic", reference, ["Read", "Describe", "DescribeConfigs"])
            found += _on(principal, "group", [feed_group(group_id)], ["Read"])
        return found
    if command == "feed":
        found = _on(principal, "topic", reference, ["Read", "Describe", "DescribeConfigs"])
        return found + _on(principal, "group", [feed_group(group_id)], ["Read"])
    if command == "replay-topic":
        found = _on(principal, "topic", [topics.requests], ["Read", "Describe"])
        found += _on(
            principal, "topic", [output_prefix], ["Create", "Write", "Describe", "DescribeConfigs"], prefixed=True
        )
        found += _on(principal, "group", [replay_group(group_id, output_prefix)], ["Read"])
        transactional = [replay_transactional_id(group_id, output_prefix)]
        return found + _on(principal, "transactional-id", transactional, ["Write", "Describe"])
    if command == "history":
        read = list(read_topics or (topics.requests, topics.rejected, topics.audit))
        found = _on(principal, "topic", read, ["Read", "Describe"])
        return found + _on(principal, "group", [HISTORY_GROUP_PREFIX], ["Read"], prefixed=True)
    raise ValueError(f"no ACLs for command {command!r}: one of {', '.join(COMMANDS)}")


def acl_lines(found: list[Grant], bootstrap: str) -> list[str]:
    """``kafka-acls.sh`` commands, one per resource and principal, every operation on it in one line."""
    by_resource: dict[tuple[str, str, str, bool], list[str]] = {}
    for grant in found:
        by_resource.setdefault((grant.principal, grant.resource, grant.name, grant.prefixed), []).append(
            grant.operation
        )
    lines = []
    for (principal, resource, name, prefixed), operations in by_resource.items():
        ops = " ".join(f"--operation {op}" for op in operations)
        pattern = " --resource-pattern-type prefixed" if prefixed else ""
        lines.append(
            f"kafka-acls.sh --bootstrap-server {bootstrap} --command-config admin.properties --add "
            f"--allow-principal {principal} {ops} --{resource} {name}{pattern}"
        )
    return lines


def apply(admin_config: dict[str, Any], found: list[Grant], timeout_s: float = 30.0) -> int:
    """Create the bindings (an existing one is left as it is); raises KafkaException on the first failure."""
    admin = AdminClient(admin_config)
    for future in admin.create_acls([g.binding() for g in found], request_timeout=timeout_s).values():
        future.result(timeout_s)
    return len(found)


def revoke(admin_config: dict[str, Any], found: list[Grant], timeout_s: float = 30.0) -> None:
    """Delete exactly these bindings (tests take one permission away, then give it back)."""
    admin = AdminClient(admin_config)
    filters = [
        AclBindingFilter(
            b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation, b.permission_type
        )
        for b in (g.binding() for g in found)
    ]
    for future in admin.delete_acls(filters, request_timeout=timeout_s).values():
        future.result(timeout_s)
