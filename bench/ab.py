"""srguard at two revisions side by side on one world: `python -m bench.ab TREE TREE [mix ...]`.

Each TREE is a checkout (e.g. `git worktree add /tmp/base <rev>`). Run this from the *older* tree when the
newer one still reads the older one's records (the world is published by the tree running this). Each
contender is `srguard run` from its tree's `processor` package, alternated in a rotated order each repeat
on the same input; rate and CPU are measured as in bench.contest.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.contest import GUARANTEES, Contender, contest, mixes
from bench.world import World
from processor.devkit.stack import EmbeddedStack
from processor.names import Topics


def from_tree(tree: Path, name: str) -> Contender:
    def argv(world: World, guarantee: str, group: str, topics: Topics) -> list[str]:
        run = (
            f"import runpy, sys; sys.path.insert(0, {str(tree)!r}); runpy.run_module('processor', run_name='__main__')"
        )
        return [sys.executable, "-c", run, "run", "--processing-guarantee", guarantee, "--group-id", group]

    return Contender(name, argv)  # the name is part of topic names: a plain word


def main(trees: list[Path], wanted: list[str]) -> None:
    # The first is "srguard": the others' outputs are checked equal to its own, record by record.
    contenders = [from_tree(trees[0], "srguard"), *(from_tree(tree, f"srguard-{tree.name}") for tree in trees[1:])]
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStack() as stack:
        world = World(stack, Path(tmp))
        chosen = [m for m in mixes(world) if not wanted or m.name in wanted]
        contest(world, chosen, GUARANTEES, contenders)


if __name__ == "__main__":
    main([Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()], sys.argv[3:])
