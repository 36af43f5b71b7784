"""Every command's --help ends with an example of it (issue 37): none is forgotten, none is stale."""

from __future__ import annotations

from typing import Any

import typer.main

from processor.cli import app
from processor.cli.examples import EXAMPLES


def _leaves(command: Any, path: str = "") -> dict[str, Any]:
    """Each runnable command by its path (typer's own click: groups have ``commands``)."""
    if hasattr(command, "commands"):
        found: dict[str, Any] = {}
        for name, sub in command.commands.items():
            found |= _leaves(sub, f"{path} {name}".strip())
        return found
    return {path: command}


def test_every_command_has_an_example_that_names_it():
    leaves = _leaves(typer.main.get_command(app))
    assert set(leaves) == set(EXAMPLES), "a command without an example, or an example of no command"
    for path, command in leaves.items():
        assert command.epilog and f"srguard {path}" in command.epilog, path


def test_each_example_uses_only_options_its_command_has():
    leaves = _leaves(typer.main.get_command(app))
    for path, lines in EXAMPLES.items():
        known = {opt for param in leaves[path].params for opt in (*param.opts, *param.secondary_opts)}
        for line in lines:
            words = line.split("#")[0].replace(')"', " ").split()
            used = {word.split("=")[0] for word in words if word.startswith("-")}
            assert used <= known, f"{path}: {sorted(used - known)} in {line!r}"
