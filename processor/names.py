"""Every name srguard gives to something outside itself, declared once.

Topics, consumer groups, transactional ids, Redis key layouts, Avro schema names and record headers
are contracts with other systems (operators' ACLs, dashboards, other consumers, a second srguard
version during a rollout). The README's contract tables document each one; change them here only.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

DEFAULT_GROUP_ID = "srguard"
# Environment variables that are not settings: read by the command line and the dev tooling.
TOOL_ENV = frozenset(
    {
        "SRGUARD_CONFIG",  # the TOML settings file
        "SRGUARD_LOG_LEVEL",
        "SRGUARD_LOG_FORMAT",
        "SRGUARD_STACK_STATE",  # where `stack up` records a detached stack
        "SRGUARD_STACK_BROKER",  # auto | kafka | tansu
        "SRGUARD_STACK_KAFKA_VERSION",  # the embedded Apache Kafka's version
        "SRGUARD_TANSU_BIN",
    }
)
DEFAULT_KEY_PREFIX = "srg"
KAFKA_LOGGER = "srguard.kafka"  # the logger handed to every librdkafka client as its `logger`


class Topics(BaseModel):
    """Every topic srguard reads or writes; the README's contract table documents each."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests: str = "dcc.sr.requests"
    registrations: str = "dcc.registration.changes"
    parties: str = "dcc.party.directory"
    devices: str = "dcc.device.inventory"
    accepted: str = "dcc.sr.accepted"
    rejected: str = "dcc.sr.rejected"
    audit: str = "dcc.sr.audit"
    dlq: str = "dcc.sr.dlq"
    responses: str = "dcc.sr.responses"
    # For the registration data's owners: `srguard suspects --publish` writes each suspect MPxN (Avro
    # RegistrationSuspect, key = the MPxN); compacted: the latest finding per MPxN stays. srguard never reads it.
    suspects: str = "dcc.registration.suspects"

    def outputs(self) -> tuple[str, ...]:
        return (self.accepted, self.rejected, self.audit, self.dlq, self.responses)


OUTPUT_ROLES = ("accepted", "rejected", "audit", "dlq", "responses")


class Schema(StrEnum):
    """Avro record names: one ``schemas/<name>.avsc`` each, and the registry subject's record name."""

    SERVICE_REQUEST = "ServiceRequest"
    REGISTRATION_CHANGE = "RegistrationChange"
    PARTY_CREDENTIAL = "PartyCredential"
    DEVICE_INVENTORY = "DeviceInventory"
    SR_REJECTION = "SrRejection"
    SR_OUTCOME = "SrOutcome"
    DUIS_REQUEST = "DuisRequest"  # archives of DUIS SR topics: the raw document, its key and its time
    REGISTRATION_SUSPECT = "RegistrationSuspect"


# The DSP's responses and alerts for SRs (Avro SrOutcome or DUIS Response XML): `srguard ledger build
# --outcomes` reads them to confirm or undo NO-cell placements. Not one of srguard's own topics.
OUTCOMES_TOPIC = "dcc.sr.outcomes"


# Headers srguard adds to the records it writes.
OUTCOME_HEADER = "srguard-outcome"  # accepted | rejected | audit
ISSUERS_HEADER = "srguard-issuers"  # on rejection and audit records: checked | unchecked (no trust store)
FLAG_HEADER = "srguard-flag"  # an accepted SR's reason to look again (on_missing_registration = accept_and_flag)
ORIGINAL_TRUNCATED_HEADER = "srguard-original-truncated"  # a rejection's `original` was cut: its full size
ERROR_HEADER = "srguard-error"  # dead letters: what failed
ERROR_CLASS_HEADER = "srguard-error-class"
SOURCE_TOPIC_HEADER = "srguard-source-topic"
SOURCE_PARTITION_HEADER = "srguard-source-partition"
SOURCE_OFFSET_HEADER = "srguard-source-offset"
TRUNCATED_HEADER = "srguard-truncated"  # a dead letter's value was cut: the original value's size


# Consumer groups. Only the processor's own group commits offsets; the others assign partitions
# themselves and never join or commit, so the group id only names them in the broker's logs and ACLs.
def feed_group(group_id: str) -> str:
    return f"{group_id}-feed"


def replay_group(group_id: str, output_prefix: str) -> str:
    """One per output prefix: a replay interrupted and run again resumes from its stored positions."""
    return f"{group_id}-replay-{output_prefix}"


def replay_transactional_id(group_id: str, output_prefix: str) -> str:
    """One per output prefix, stable: a replay run again fences its interrupted predecessor, whose open
    transaction (outputs after its last checkpoint) is aborted."""
    return f"{replay_group(group_id, output_prefix)}-tx"


def history_group() -> str:
    return f"{DEFAULT_GROUP_ID}-history-{uuid.uuid4().hex[:8]}"


def transactional_id(group_id: str) -> str:
    """Unique per process, so two instances never fence each other; a StatefulSet sets a stable one."""
    return f"{group_id}-{socket.gethostname()}-{os.getpid()}"


# The values of RedisKeys.reference_epoch: the feed is building the reference data up to its topics' ends, or
# it is whole ("whole:<token of that build>"). No value at all: Redis lost its data, or no feed ever ran.
REFERENCE_BUILDING, REFERENCE_WHOLE = b"building", b"whole"


@dataclass(frozen=True)
class RedisKeys:
    """The Redis key layout under one prefix. The party directory shares one hash tag so its keys sit in
    one Redis Cluster slot (it is updated in one MULTI); the bucketed stores spread over the cluster."""

    prefix: str = DEFAULT_KEY_PREFIX

    @property
    def registrations(self) -> str:
        return f"{self.prefix}:reg"  # + ":<bucket hex>" hashes of MPxN -> packed history, + ":meta"

    @property
    def devices(self) -> str:
        return f"{self.prefix}:dev"  # + ":<bucket hex>" hashes of device EUI-64 (16 hex) -> packed history

    @property
    def device_offsets(self) -> str:
        return f"{self.prefix}:dev-offsets"  # the feed's positions on the inventory topic

    @property
    def feed_offsets(self) -> str:
        return f"{self.prefix}:feed:offsets"

    @property
    def reference_epoch(self) -> str:
        # Written by the feed once Redis holds every reference record up to its topics' ends; gone with the
        # data when Redis loses it (FLUSHALL, a restart without persistence, failover to an empty replica).
        return f"{self.prefix}:reference:epoch"

    @property
    def feed_status(self) -> str:
        return f"{self.prefix}:feed:status"  # what `srguard feed` publishes for processors without a feed

    @property
    def feed_rejected(self) -> str:
        return f"{self.prefix}:feed:rejected"  # the last registration records the feed could not apply

    @property
    def parties(self) -> str:
        return f"{{{self.prefix}:party}}"  # + ":entities", ":version", ":offsets"

    @property
    def ledger(self) -> str:
        return f"{self.prefix}:ledger"  # + ":<bucket hex>" hashes of device EUI-64 (8 bytes) -> packed NO cells

    @property
    def ledger_offsets(self) -> str:
        return f"{self.prefix}:ledger-offsets"

    @property
    def ledger_entities(self) -> str:
        return f"{self.prefix}:ledger-entities"  # entity EUI-64 -> the number the ledger's records use
