"""Every topic srguard uses, with its role and the settings ``srguard topics create`` gives it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic
from rich.table import Table

from processor.errors import KafkaUnreachable, PermissionDenied, TopicLosesHistory, TopicMissing
from processor.names import Topics

# The reference topics keep every record for good, never compacted. Their records are effective-dated changes
# keyed by MPxN (entity, device), and an as-of look-up needs every change of a key, not its latest: compaction
# keeps one record per key (a change with an older effective date that arrives after a newer one is then lost,
# and so is one of a party's two role lines). Keying each change by itself and compacting would keep the same
# records but for exact repeats, and break the tombstone-per-MPxN contract: no compaction is the simpler rule.
REFERENCE_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    purpose: str
    reference: bool = False  # every record kept for good: REFERENCE_CONFIG
    kept: bool = False  # retention.ms=-1: history (SRs of years ago are stamped with their own time)
    compacted: bool = False  # the latest record per key is what counts

    @property
    def config(self) -> dict[str, str]:
        if self.compacted:
            return {"cleanup.policy": "compact"}
        return dict(REFERENCE_CONFIG) if self.reference else ({"retention.ms": "-1"} if self.kept else {})


def topic_layout(topics: Topics) -> list[TopicSpec]:
    return [
        TopicSpec(topics.requests, "input: Service Requests (Avro ServiceRequest or DUIS XML), key = target device id"),
        TopicSpec(
            topics.registrations, "input: registration changes (Avro RegistrationChange), key = MPxN", reference=True
        ),
        TopicSpec(topics.parties, "input: party directory (Avro PartyCredential), key = entity EUI-64", True),
        TopicSpec(
            topics.devices, "input: device inventory (Avro DeviceInventory), key = device EUI-64", reference=True
        ),
        TopicSpec(topics.accepted, "output: accepted SRs, input bytes unchanged + srguard-outcome header"),
        TopicSpec(topics.rejected, "output: rejections (Avro SrRejection)"),
        TopicSpec(topics.audit, "output: would-be rejections in audit mode (Avro SrRejection)"),
        TopicSpec(topics.dlq, "output: undecodable input, bytes unchanged + srguard-error headers"),
        TopicSpec(topics.responses, "output: a DUIS Response XML per rejection (enforce mode), key as the input"),
        TopicSpec(
            topics.suspects,
            "output of srguard suspects --publish (Avro RegistrationSuspect), key = MPxN",
            compacted=True,
        ),
    ]


def default_replication(admin: AdminClient) -> int:
    """min(3, brokers): three copies where the cluster has them (one broker's loss loses nothing acknowledged
    under min ISR 2), all it has otherwise. Raises KafkaException when the broker is unreachable."""
    return min(3, len(admin.list_topics(timeout=10).brokers))


def create_topics(
    admin: AdminClient, specs: list[TopicSpec], partitions: int, replication: int | None = None
) -> dict[str, str]:
    """Create what is missing, with ``replication`` replicas (default: ``default_replication``); returns topic ->
    "created" | "exists" (saying so when its partition count differs from ``partitions``: srguard never
    changes an existing topic). Raises KafkaException or TimeoutError."""
    # fails fast, with librdkafka's reason, when the broker is unreachable
    replication = replication or default_replication(admin)
    new = [NewTopic(s.name, partitions, replication, config=s.config) for s in specs]
    outcome: dict[str, str] = {}
    for name, future in admin.create_topics(new, request_timeout=30).items():
        try:
            future.result(timeout=30)
            outcome[name] = "created"
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            outcome[name] = "exists"
    existing = [name for name, result in outcome.items() if result == "exists"]
    if existing:
        metadata = admin.list_topics(timeout=10).topics
        for name in existing:
            found = len(metadata[name].partitions) if name in metadata else None
            if found is not None and found != partitions:
                outcome[name] = f"exists with {found} partitions (not changed to {partitions})"
    return outcome


def topics_table(specs: list[TopicSpec], outcome: dict[str, str]) -> Table:
    table = Table("topic", "result", "purpose")
    for spec in specs:
        kept = " (every record kept)" if spec.reference else ""
        compacted = " (compacted)" if spec.compacted else ""
        table.add_row(spec.name, outcome[spec.name], spec.purpose + kept + compacted)
    return table


def _history_losses(entries: dict[str, ConfigEntry]) -> list[str]:
    found = []
    if "compact" in (entries["cleanup.policy"].value or ""):
        found.append(f"cleanup.policy={entries['cleanup.policy'].value}")
    found += [f"{k}={entries[k].value}" for k in ("retention.ms", "retention.bytes") if entries[k].value != "-1"]
    return found


def reference_history(admin: AdminClient, names: list[str]) -> dict[str, list[str]]:
    """Each existing reference topic's settings that would lose history ([] when none)."""
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    found = {}
    for resource, future in admin.describe_configs(resources, request_timeout=30).items():
        try:
            found[resource.name] = _history_losses(future.result(timeout=30))
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                raise PermissionDenied(
                    f"permission denied by the broker: this principal may not DescribeConfigs on topic "
                    f"{resource.name} (srguard checks that a reference topic keeps every record); "
                    "'srguard acls --principal User:<name> --for run|feed' lists what each command needs"
                ) from exc
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
    return found


CONFIG_PROPAGATION_S = 10.0  # how long a fixed topic's new settings may take to be what the broker describes
START_CHECK_TIMEOUT_S = 5.0  # how long `run` waits for the cluster's metadata before it says it cannot reach it


def require_topics(admin: AdminClient, names: list[str], bootstrap: str) -> None:
    """Before anything joins a group or writes: the cluster answers (KafkaUnreachable, naming the address and the
    setting) and every topic in ``names`` exists (TopicMissing, naming them): a typo'd topic would otherwise wait
    for partitions forever, or be created by the broker and receive outputs."""
    try:
        found = admin.list_topics(timeout=START_CHECK_TIMEOUT_S).topics
    except KafkaException as exc:
        raise KafkaUnreachable(
            f"cannot reach Kafka at {bootstrap} (--bootstrap-servers, SRGUARD_BOOTSTRAP_SERVERS) within "
            f"{START_CHECK_TIMEOUT_S:.0f} s: {exc.args[0].str()}"
        ) from exc
    missing = [name for name in names if name not in found or found[name].error is not None]
    if missing:
        raise TopicMissing(
            f"{', '.join(missing)} {'does' if len(missing) == 1 else 'do'} not exist on {bootstrap}: create "
            "srguard's topics with 'srguard topics create', or correct the topic setting (SRGUARD_TOPICS__...)"
        )


def require_history(admin: AdminClient, names: list[str]) -> None:
    """Refuse reference topics that would drop records the as-of look-ups need (TopicLosesHistory)."""
    losses = {name: found for name, found in reference_history(admin, names).items() if found}
    if losses:
        said = "; ".join(f"{name} has {', '.join(found)}" for name, found in sorted(losses.items()))
        raise TopicLosesHistory(
            f"reference topics must keep every record (cleanup.policy=delete, retention.ms=-1, retention.bytes=-1): "
            f"{said}. `srguard topics create --fix-reference-topics` sets that; history already compacted away "
            "must be published again (e.g. `srguard registrations load` of a full refresh file)"
        )


def fix_reference_topics(admin: AdminClient, names: list[str]) -> dict[str, str]:
    """Set REFERENCE_CONFIG on the reference topics that lack it; returns topic -> what was changed."""
    changed = {}
    for name, found in reference_history(admin, names).items():
        if not found:
            continue
        entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in REFERENCE_CONFIG.items()]
        resource = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
        for future in admin.incremental_alter_configs([resource]).values():
            future.result(timeout=30)
        # Acknowledged by the controller, served by the broker a moment later: wait until it is, so nothing read
        # next (this command's own check, a feed started right after) sees the old settings
        deadline = time.monotonic() + CONFIG_PROPAGATION_S
        while reference_history(admin, [name]).get(name) and time.monotonic() < deadline:
            time.sleep(0.1)
        changed[name] = f"was {', '.join(found)}; now keeps every record"
    return changed
