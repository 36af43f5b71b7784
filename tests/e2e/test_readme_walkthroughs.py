"""README.md's walkthroughs, run as written (issue 37): every ```sh block under a `<!-- walkthrough: NAME -->`
line is one bash script, run from a fresh working folder with `srguard` on the PATH and nothing of the test
session's environment, so the block's own `stack up` starts a fresh embedded stack. Each command must exit 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"<!-- walkthrough: (?P<name>[\w-]+) -->\n```sh\n(?P<body>.*?)```", re.S)
MARK = ":::walkthrough:::"


def walkthroughs() -> dict[str, list[str]]:
    """Each walkthrough's commands: one a line, comments and blank lines dropped."""
    found = {}
    for match in BLOCK.finditer(README.read_text()):
        lines = [line.split("  #")[0].rstrip() for line in match["body"].splitlines()]
        found[match["name"]] = [line for line in lines if line and not line.startswith("#")]
    return found


def script(commands: list[str]) -> str:
    """One bash script: each command announced (to name the one that fails), the first failure ends it, and
    whatever the block started is stopped whatever happens."""
    steps = [f"echo '{MARK} {c.replace(chr(39), chr(39) + chr(92) + chr(39) + chr(39))}'\n{c}" for c in commands]
    return "set -euo pipefail\ntrap 'srguard stack down >/dev/null 2>&1 || true' EXIT\n" + "\n".join(steps) + "\n"


def test_the_readme_has_walkthroughs():
    found = set(walkthroughs())
    assert {"first-hour", "history", "secure"} <= found, "a walkthrough marker went missing from README.md"


@pytest.mark.parametrize("name", sorted(walkthroughs()))
def test_a_readme_walkthrough_runs_as_written(name, tmp_path):
    commands = walkthroughs()[name]
    keep = ("HOME", "LANG", "TERM", "JAVA_HOME", "XDG_CACHE_HOME", "M2_HOME", "MAVEN_OPTS")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env |= {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "SRGUARD_STACK_STATE": str(tmp_path / "stack.json"),  # never the user's own stack
        "COLUMNS": "200",
    }
    done = subprocess.run(
        ["bash", "-c", script(commands)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    ran = [line.removeprefix(f"{MARK} ") for line in done.stdout.splitlines() if line.startswith(MARK)]
    assert done.returncode == 0, (
        f"`{ran[-1] if ran else '?'}` failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    assert ran == commands, "every command of the block ran"
