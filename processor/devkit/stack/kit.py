"""The secured stack for docker compose (``srguard stack kit``, ``docker-compose.secure.yml``).

The same material as ``srguard stack up --secure`` (``secure.py``: one CA, the broker's and Redis's
certificates, SCRAM passwords, Redis ACL users, one srguard config per principal), made for containers that
reach each other by service name (``kafka``, ``redis``) and see the files under a mount (``/secure``).
Beside it, what the embedded stack does itself: the full broker config, the script that formats the KRaft
storage with the SCRAM users and starts the broker, and file ownership, so each container reads its own
files (0600) and nothing else; the CA alone is public.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from processor.devkit.stack import apache_kafka
from processor.devkit.stack.secure import Place, Ports, SecureMaterial

# Fixed in-network ports: compose's clients dial kafka:9094 (SASL_SSL) or kafka:9095 (mTLS), redis:6380 (TLS).
COMPOSE_PORTS = Ports(sasl_ssl=9094, mtls=9095, broker=9096, controller=9093, redis_tls=6380)
COMPOSE_PLACE = Place(kafka_host="kafka", redis_host="redis", bind="0.0.0.0", mount=Path("/secure"))
KAFKA_HOME = "/opt/kafka"  # the apache/kafka image's layout
KAFKA_DATA = "/var/lib/kafka/data"
SERVICES = ("kafka", "redis", "srguard")


@dataclass(frozen=True)
class Kit:
    folder: Path
    files: dict[str, list[Path]]  # by the service that reads them (the CA: everyone)


def write_kit(
    folder: Path,
    place: Place = COMPOSE_PLACE,
    ports: Ports = COMPOSE_PORTS,
    kafka_home: str = KAFKA_HOME,
    kafka_data: str = KAFKA_DATA,
) -> Kit:
    """Everything the secured compose mounts, written into ``folder`` (every secret 0600). The defaults are
    compose's; a test runs the same kit on loopback with the broker's jars behind ``kafka_home``."""
    material = SecureMaterial(folder, place)
    node = apache_kafka.Node(1, ports.sasl_ssl, ports.controller)
    settings = material.server_properties(ports) | {"log.dirs": kafka_data}
    properties = folder / "kafka.properties"
    properties.write_text(apache_kafka.server_properties(Path(kafka_data), node, [node], settings))
    properties.chmod(0o600)
    seen = material.seen(properties)
    scram = " ".join(shlex.quote(argument) for argument in material.scram_arguments())
    start = folder / "kafka-start.sh"
    start.write_text(
        "#!/bin/sh\n"
        "# Made by `srguard stack kit`: format the KRaft storage once, with the SCRAM users, then run the broker.\n"
        "set -e\n"
        f"if [ ! -f {kafka_data}/meta.properties ]; then\n"
        f"  {kafka_home}/bin/kafka-storage.sh format --cluster-id {apache_kafka.cluster_id()} --config {seen} "
        f"{scram}\n"
        "fi\n"
        f"exec {kafka_home}/bin/kafka-server-start.sh {seen}\n"
    )
    start.chmod(0o700)
    material.ca_file.chmod(0o644)  # public: every client verifies the servers with it
    folder.chmod(0o755)  # each container reaches its own files (0600, its user) and the CA
    configs = material.write_configs(ports)
    clients = [path for pair in material.client_files.values() for path in pair]
    return Kit(
        folder,
        {
            "kafka": [material.broker_keystore, properties, start],
            "redis": [material.server_cert, material.server_key, material.write_redis_conf(ports)],
            "srguard": [*configs.values(), *clients],
        },
    )


def hand_over(kit: Kit, owners: dict[str, int]) -> None:
    """Each service's files to its container's user id (root only): a container reads its own and the CA."""
    for service, uid in owners.items():
        for path in kit.files[service]:
            os.chown(path, uid, uid)
