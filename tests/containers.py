"""testcontainers for users with a Docker engine: apache/kafka (KRaft, one node) and redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from processor.devkit.stack import free_port
from processor.devkit.stack.apache_kafka import DEFAULT_VERSION

KAFKA_IMAGE = f"apache/kafka:{DEFAULT_VERSION}"  # the embedded stack's version
REDIS_IMAGE = "redis:7.4"


def kraft_environment(advertised: str) -> dict[str, str]:
    """A single-node KRaft broker (also what docker-compose.yml runs)."""
    return {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{advertised}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }


def docker_answers() -> bool:
    try:
        import docker

        return bool(docker.from_env(timeout=2).ping())
    except Exception:
        return False


@contextmanager
def kafka_container() -> Iterator[str]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    port = free_port()  # fixed host port: Kafka must advertise the address clients dial
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, port)
    for name, value in kraft_environment(f"localhost:{port}").items():
        container = container.with_env(name, value)
    with container:
        wait_for_logs(container, "Kafka Server started", timeout=90)
        yield f"localhost:{port}"


@contextmanager
def redis_container() -> Iterator[str]:
    from testcontainers.redis import RedisContainer

    with RedisContainer(REDIS_IMAGE) as container:
        yield f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
