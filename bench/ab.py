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


def from_tree(tree: Path) -> Contender:
    def argv(world: World, guarantee: str, group: str, topics: Topics) -> list[str]:
        run = (
            f"import runpy, sys; sys.path.insert(0, {str(tree)!r}); runpy.run_module('processor', run_name='__main__')"
        )
        return [sys.executable, "-c", run, "run", "--processing-guarantee", guarantee, "--group-id", group]

    return Contender(f"srguard-{tree.name}", argv, compared="")  # names topics: a plain word


def main(trees: list[Path], wanted: list[str]) -> None:
    contenders = [from_tree(tree) for tree in trees]
    with tempfile.TemporaryDirectory() as tmp, EmbeddedStack() as stack:
        world = World(stack, Path(tmp))
        chosen = [m for m in mixes(world) if not wanted or m.name in wanted]
        contest(world, chosen, GUARANTEES, contenders)


if __name__ == "__main__":
    main([Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()], sys.argv[3:])
