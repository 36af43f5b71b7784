"""Where the report's records come from: a rejection/audit topic or archive, and the in-scope denominator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from processor.avro import DecodeError, Serde
from processor.domain.model import RemotePartyRole
from processor.domain.rule import is_candidate, is_exempt, is_target
from processor.names import Schema
from processor.replay.archive import read_archive
from processor.stream.reading import read_history
from processor.stream.serde import candidate, in_scope


def checked_by_secmp0063(
    variant: str, user_role: str | None, device_type: str | None, remote_party_role: str | None
) -> bool:
    """The SRs whose NO certificates the rule checks: the denominator of the incidence rate."""
    if is_exempt(variant, user_role) or not (is_candidate(variant, user_role) and is_target(variant, device_type)):
        return False
    # a missing RemotePartyRole is checked (and rejected) too
    return remote_party_role in (RemotePartyRole.NETWORK_OPERATOR, None)


def rejections_from_topic(
    kafka_config: dict[str, Any], topic: str, serde: Serde, since: int | None = None, until: int | None = None
) -> Iterator[dict[str, Any]]:
    for batch in read_history(kafka_config, topic, since, until):
        for msg in batch:
            yield serde.decode(Schema.SR_REJECTION, msg.value() or b"", topic)


def rejections_from_archive(path: Path) -> Iterator[dict[str, Any]]:
    name, records = read_archive(path)
    if name != Schema.SR_REJECTION:
        raise ValueError(f"{path} holds {name or 'unknown'} records, not SrRejection")
    return records


def in_scope_from_topic(
    kafka_config: dict[str, Any], topic: str, serde: Serde, since: int | None = None, until: int | None = None
) -> int:
    count = 0
    for batch in read_history(kafka_config, topic, since, until):
        for msg in batch:
            try:
                sr = candidate(msg.value(), in_scope, serde, topic)
            except DecodeError:
                continue  # the processor sent these to the DLQ: never in scope
            if sr is not None:
                count += checked_by_secmp0063(
                    sr.service_reference_variant, sr.user_role, sr.target_device_type, sr.remote_party_role
                )
    return count


def in_scope_from_archive(path: Path) -> int:
    name, records = read_archive(path)
    if name != Schema.SERVICE_REQUEST:
        raise ValueError(f"{path} holds {name or 'unknown'} records, not ServiceRequest")
    return sum(
        checked_by_secmp0063(
            r["service_reference_variant"], r["user_role"], r["target_device_type"], r["remote_party_role"]
        )
        for r in records
    )


def rejections_and_scope(
    kafka_config: dict[str, Any],
    serde: Serde,
    rejections: str | Path,
    requests: str | Path | None,
    since: int | None = None,
    until: int | None = None,
) -> tuple[Iterator[dict[str, Any]], int | None]:
    """The report's two inputs, each a topic (by name) or an archive (a path): the rejection records, and
    the in-scope SR count (None without a requests source)."""
    records = (
        rejections_from_archive(rejections)
        if isinstance(rejections, Path)
        else rejections_from_topic(kafka_config, rejections, serde, since, until)
    )
    if requests is None:
        return records, None
    if isinstance(requests, Path):
        return records, in_scope_from_archive(requests)
    return records, in_scope_from_topic(kafka_config, requests, serde, since, until)
