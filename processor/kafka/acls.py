"""The Kafka ACLs each srguard command needs, as data: printed as ``kafka-acls.sh`` lines or JSON, or applied.

Least privilege, from what each command does (processor.wiring builds its clients): ``run`` reads its input,
writes its five outputs (and reads their ``max.message.bytes``), reads as its group, and under exactly-once
writes with transactional ids ``<prefix>*`` (default ``<group>-``: one per process); with the embedded feed it
also reads the three reference topics (and checks they keep every record). ``feed`` reads the reference topics.
``replay-topic`` reads the SR topic and creates and writes its ``<output prefix>*`` topics in transactions.
``history`` (export, report, evidence, ledger build) reads what it is given; ``suspects`` reads the rejected, audit
and accepted topics and writes the suspects topic. Nobody but ``feed``'s writer of the
reference data, the DSP's own publisher, may write the reference topics: they decide which certificates pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from processor.errors import AclsTooWide
from processor.kafka.edge import error_text
from processor.names import Topics, feed_group, replay_group, replay_transactional_id

COMMANDS = ("run", "feed", "replay-topic", "history", "suspects")
HISTORY_GROUP_PREFIX = "srguard-history-"  # names.history_group(): a random suffix per read


@dataclass(frozen=True)
class Grant:
    """One ALLOW binding: ``principal`` may do ``operation`` on the ``resource`` named ``name``."""

    principal: str
    resource: str  # topic | group | transactional-id | cluster
    name: str
    operation: str  # Read | Write | Describe | DescribeConfigs | Create
    prefixed: bool = False

    def binding(self) -> AclBinding:
        kind = {
            "topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "transactional-id": ResourceType.TRANSACTIONAL_ID,
            "cluster": ResourceType.BROKER,  # the cluster resource, named kafka-cluster
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
    if command == "suspects":  # its evidence, and with --publish the data owners' topic
        found = _on(principal, "topic", [topics.rejected, topics.audit, topics.accepted], ["Read", "Describe"])
        found += _on(principal, "topic", [topics.suspects], ["Write", "Describe"])
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


def principal_of(kafka_config: dict[str, Any]) -> str | None:
    """The principal a client's settings authenticate as: its SASL user, else its certificate's CN (the
    broker's mapping rule must agree); None when they name no identity (plaintext)."""
    if kafka_config.get("sasl.username"):
        return f"User:{kafka_config['sasl.username']}"
    location = kafka_config.get("ssl.certificate.location")
    if location:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        with open(location, "rb") as handle:
            certificate = x509.load_pem_x509_certificate(handle.read())
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return f"User:{names[0].value!s}" if names else None
    return None


def _allowed(bindings: list[AclBinding], principal: str, topic: str, operations: tuple[AclOperation, ...]) -> bool:
    for binding in bindings:
        prefixed = binding.resource_pattern_type == ResourcePatternType.PREFIXED and topic.startswith(binding.name)
        named = binding.name in (topic, "*") or prefixed
        if named and binding.principal in (principal, "User:*") and binding.operation in operations:
            return True
    return False


def topic_bindings(admin_config: dict[str, Any], timeout_s: float = 10.0) -> list[AclBinding]:
    """Every ALLOW binding on topics, as the broker lists them to this client. Raises KafkaException."""
    anything: Any = None  # any name, principal and host (confluent-kafka's stubs say str)
    everything = AclBindingFilter(
        ResourceType.TOPIC, anything, ResourcePatternType.ANY, anything, anything, AclOperation.ANY,
        AclPermissionType.ALLOW,
    )  # fmt: skip
    admin = AdminClient(admin_config)  # held until the answer: a dropped client cancels its requests
    return list(admin.describe_acls(everything, request_timeout=timeout_s).result(timeout_s))


def require_narrow(admin_config: dict[str, Any], guarded: list[str]) -> None:
    """``strict_acls``: the client's principal may write none of ``guarded`` (run's input first, then the
    reference topics), as the broker's ACLs say; AclsTooWide when it may, or when the broker will not say."""
    principal = principal_of(admin_config)
    if principal is None:
        raise AclsTooWide("strict_acls: the Kafka settings name no principal (no SASL user, no client certificate)")
    unverifiable = (
        f"strict_acls: the broker will not list its ACLs to {principal}, so srguard cannot verify it may not write "
        "its input or reference data: grant it Describe on the cluster, or turn strict_acls off"
    )
    try:
        bindings = topic_bindings(admin_config)
    except KafkaException as exc:
        raise AclsTooWide(f"{unverifiable} ({error_text(exc)})") from exc
    # A broker that will not show a principal its ACLs may answer with none at all: a true listing holds the
    # grant by which it reads its input (guarded[0]).
    if not _allowed(bindings, principal, guarded[0], (AclOperation.READ, AclOperation.ALL)):
        raise AclsTooWide(f"{unverifiable} (it listed none that lets {principal} read {guarded[0]})")
    found = [t for t in guarded if _allowed(bindings, principal, t, (AclOperation.WRITE, AclOperation.ALL))]
    if found:
        raise AclsTooWide(
            f"strict_acls: {principal} may write {', '.join(found)}: whoever writes srguard's input or reference "
            "data decides which certificates pass; remove those grants ('srguard acls --for run' lists what it needs)"
        )
