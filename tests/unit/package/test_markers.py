"""The marker check itself (tests/markers.py): each way of getting a marker wrong is caught."""

from __future__ import annotations

from pathlib import PurePath

import pytest

from tests.markers import Collected, misplaced

ROOT = PurePath("/repo")


def collected(path: str, fixtures: set[str] = frozenset(), markers: set[str] = frozenset()) -> Collected:
    return Collected(f"{path}::test", ROOT / path, frozenset(fixtures), frozenset(markers))


@pytest.mark.parametrize(
    ("test", "wrong"),
    [
        (collected("tests/integration/test_a.py", {"redis_url"}, {"integration"}), False),
        (collected("tests/e2e/test_a.py", {"kafka_bootstrap"}, {"e2e", "slow"}), False),
        (collected("tests/unit/stream/test_a.py", {"tmp_path"}), False),
        (collected("tests/reliability/test_a.py", set(), {"slow"}), False),
        (collected("tests/integration/test_a.py", {"redis_url"}), True),  # Redis, unmarked
        (collected("tests/integration/test_a.py", {"redis_url"}, {"slow"}), True),  # slow is not integration
        (collected("tests/unit/stream/test_a.py", {"kafka_bootstrap"}, {"integration"}), True),  # a unit with a broker
        (collected("tests/reliability/test_a.py"), True),  # outside unit, no marker
    ],
)
def test_every_wrong_marking_is_named(test, wrong):
    assert bool(misplaced([test], ROOT)) == wrong
