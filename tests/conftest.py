"""Session-wide real services for the tests.

Order for each of Kafka and Redis: the user's own (``KAFKA_BOOTSTRAP_SERVERS`` / ``REDIS_URL``);
else testcontainers when a Docker engine answers (apache/kafka in KRaft mode, redis); else the
embedded stack (tansu + redis-server). One broker and one Redis per test session; each test gets
its own topic names and Redis key prefix.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import PurePath

import pytest

from processor.devkit.capabilities import BrokerCapabilities
from processor.devkit.stack import EmbeddedStack
from tests.containers import docker_answers, kafka_container, redis_container
from tests.markers import Collected, misplaced


@pytest.fixture(scope="session")
def _services() -> Iterator[dict[str, str]]:
    found = {"kafka": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", ""), "redis": os.environ.get("REDIS_URL", "")}
    missing = [name for name, address in found.items() if not address]
    with ExitStack() as stack:
        if missing and docker_answers():
            if "kafka" in missing:
                found["kafka"] = stack.enter_context(kafka_container())
            if "redis" in missing:
                found["redis"] = stack.enter_context(redis_container())
        elif missing:
            embedded = stack.enter_context(EmbeddedStack(kafka="kafka" in missing, redis="redis" in missing))
            found["kafka_pid"] = str(next((s.pid for s in embedded.state.services if s.name == "kafka"), ""))
            if "kafka" in missing:
                found["kafka"] = embedded.kafka_bootstrap
            if "redis" in missing:
                found["redis"] = embedded.redis_url
        yield found


@pytest.fixture(scope="session")
def kafka_bootstrap(_services: dict[str, str]) -> str:
    return _services["kafka"]


@pytest.fixture(scope="session")
def redis_url(_services: dict[str, str]) -> str:
    return _services["redis"]


@pytest.fixture(scope="session")
def embedded_broker_pid(_services: dict[str, str]) -> int:
    """The embedded broker's process, for outage tests; skipped when the broker is not ours to stop."""
    if not _services.get("kafka_pid"):
        pytest.skip("the broker is external (KAFKA_BOOTSTRAP_SERVERS or a container): not ours to stop")
    return int(_services["kafka_pid"])


@pytest.fixture(scope="session")
def broker_capabilities(kafka_bootstrap: str) -> BrokerCapabilities:
    return BrokerCapabilities(kafka_bootstrap)


@pytest.fixture
def unique() -> str:
    """A short id for this test's topic names and Redis key prefix."""
    return uuid.uuid4().hex[:10]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse the run when a test's markers do not say what it needs (tests/markers.py)."""
    collected = [
        Collected(
            item.nodeid,
            PurePath(item.path),
            frozenset(getattr(item, "fixturenames", ())),
            frozenset(mark.name for mark in item.iter_markers()),
        )
        for item in items
    ]
    wrong = misplaced(collected, PurePath(config.rootpath))
    if wrong:
        raise pytest.UsageError("tests whose markers are wrong:\n" + "\n".join(wrong))
