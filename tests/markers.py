"""Which marker a test must carry, checked at collection (conftest): a suite run in parts is only as good
as its markers. A test that reaches the real broker or Redis through the session's fixtures is
``integration`` or ``e2e``; a test outside ``tests/unit`` carries ``integration``, ``e2e`` or ``slow``, so
that ``make unit`` (``tests/unit``) needs no service and ``-m "not slow"`` leaves out the long ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath

SERVICE_FIXTURES = frozenset(
    {"_services", "kafka_bootstrap", "redis_url", "embedded_broker_pid", "broker_capabilities"}
)
SERVICE_MARKERS = frozenset({"integration", "e2e"})
OUTSIDE_UNIT_MARKERS = SERVICE_MARKERS | {"slow"}


@dataclass(frozen=True)
class Collected:
    """What the check needs of a collected test: its id, file, fixtures and markers."""

    nodeid: str
    path: PurePath
    fixtures: frozenset[str]
    markers: frozenset[str]


def misplaced(tests: Iterable[Collected], root: PurePath) -> list[str]:
    """Each test whose markers do not say what it needs, with why."""
    found = []
    for test in tests:
        in_unit = test.path.relative_to(root).parts[:2] == ("tests", "unit")
        services = test.fixtures & SERVICE_FIXTURES
        if services and not test.markers & SERVICE_MARKERS:
            found.append(f"{test.nodeid}: uses {', '.join(sorted(services))} but is not marked integration or e2e")
        elif services and in_unit:
            found.append(f"{test.nodeid}: uses {', '.join(sorted(services))} inside tests/unit (no services there)")
        elif not in_unit and not test.markers & OUTSIDE_UNIT_MARKERS:
            found.append(f"{test.nodeid}: outside tests/unit without an integration, e2e or slow marker")
    return found
