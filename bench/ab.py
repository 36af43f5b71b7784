"""srguard at two revisions side by side on one world: `python -m bench.ab TREE TREE [mix ...]`.

Each TREE is a checkout (e.g. `git worktree add /tmp/base <rev>`). Run this from the *older* tree when the
newer one still reads the older one's records (the world is published by the tree running this). Each
contender is `srguard run` from its tree's `processor` package, alternated in a rotated order each repeat
on the same input; rate and CPU are measured as in bench.contest.

`python -m bench.ab --judge TREE TREE`: the processing step alone, without Kafka or Redis (bench.duis's DUIS
mix through each tree's judge, in-memory look-ups, one core), ROUNDS times alternated: the Kafka runs' spread
hides differences of a few percent, this one does not.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from bench.contest import GUARANTEES, Contender, contest, mixes
from bench.world import World
from processor.devkit.stack import EmbeddedStack
from processor.names import Topics

KEEP_EVERY_RECORD = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


def from_tree(tree: Path, name: str) -> Contender:
    def argv(world: World, guarantee: str, group: str, topics: Topics) -> list[str]:
        run = (
            f"import runpy, sys; sys.path.insert(0, {str(tree)!r}); runpy.run_module('processor', run_name='__main__')"
        )
        return [sys.executable, "-c", run, "run", "--processing-guarantee", guarantee, "--group-id", group]

    return Contender(name, argv)  # the name is part of topic names: a plain word


def _keep_every_record(world: World) -> None:
    """Reference topics as today's srguard requires them, whichever tree made the world (older ones compacted
    them; srguard now refuses such topics)."""
    admin = AdminClient({"bootstrap.servers": world.bootstrap})
    kept = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in KEEP_EVERY_RECORD.items()]
    topics = (world.topics.registrations, world.topics.parties, world.topics.devices)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=kept) for t in topics]
    for future in admin.incremental_alter_configs(resources).values():
        future.result(timeout=30)


def main(trees: list[Path], wanted: list[str]) -> None:
    # The first is "srguard": the others' outputs are checked equal to its own, record by record.
    contenders = [from_tree(trees[0], "srguard"), *(from_tree(tree, f"srguard-{tree.name}") for tree in trees[1:])]
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStack() as stack:
        world = World(stack, Path(tmp))
        _keep_every_record(world)
        chosen = [m for m in mixes(world) if not wanted or m.name in wanted]
        contest(world, chosen, GUARANTEES, contenders)


ROUNDS = 5
_JUDGE = "import sys; sys.path.insert(0, {tree!r}); import bench.duis as d; print(d._mix_rate()[0])"


def judge_rates(trees: list[Path]) -> None:
    rates: dict[Path, list[float]] = {tree: [] for tree in trees}
    for round_ in range(ROUNDS):
        for tree in trees[round_ % 2 :] + trees[: round_ % 2]:
            run = subprocess.run([sys.executable, "-c", _JUDGE.format(tree=str(tree))], cwd=tree, capture_output=True)
            rates[tree].append(float(run.stdout.decode().split()[-1]))
            print(f"round {round_ + 1}: {tree}: {rates[tree][-1]:,.0f} SR/s", flush=True)
    for tree, found in rates.items():
        print(f"{tree}: median {statistics.median(found):,.0f} SR/s ({min(found):,.0f}-{max(found):,.0f})")


if __name__ == "__main__":
    if sys.argv[1] == "--judge":
        judge_rates([Path(sys.argv[2]).resolve(), Path(sys.argv[3]).resolve()])
    else:
        main([Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()], sys.argv[3:])
