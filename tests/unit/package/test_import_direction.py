"""Which room may import which: the table of ../shared/ARCHITECTURE.md (and README's code map), held here.

Data flows one way and so do imports: a room imports only rooms below it. A new upward import fails this
test; when the design changes, change the table (and the README), not the rule. Every import counts,
including one inside a function: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "processor"

# processor.<first part> -> room. The ground floor depends on nothing above it; "kafka" is the Kafka edge every
# room that moves records shares; the ledger builds on history (its evidence pack counts incidents).
ROOM_OF = {
    "": "ground",  # processor/__init__.py: the version
    "domain": "ground",
    "names": "ground",
    "times": "ground",
    "errors": "ground",
    "config": "ground",
    "avro": "ground",
    "observability": "observability",
    "duis": "duis",
    "kafka": "kafka",
    "registration": "registration",
    "stream": "stream",
    "history": "history",
    "ledger": "ledger",
    "wiring": "wiring",
    "devkit": "devkit",
    "cli": "cli",
    "__main__": "main",
}
BELOW_HISTORY = {"ground", "observability", "duis", "kafka", "registration", "stream"}
ALLOWED = {
    "ground": {"ground"},
    "observability": {"ground"},
    "duis": {"ground"},
    "kafka": {"ground"},
    "registration": {"ground", "observability", "kafka"},
    "stream": {"ground", "observability", "duis", "kafka"},
    "history": BELOW_HISTORY,
    "ledger": BELOW_HISTORY | {"history"},
    "wiring": BELOW_HISTORY | {"history", "ledger"},
    "devkit": BELOW_HISTORY | {"history", "ledger", "wiring"},
    "cli": BELOW_HISTORY | {"history", "ledger", "wiring", "devkit"},
    "main": {"cli"},
}


def room(module: str) -> str:
    """The room of a dotted module name inside the package."""
    parts = module.split(".")
    assert parts[0] == "processor", module
    first = parts[1] if len(parts) > 1 else ""
    assert first in ROOM_OF, f"{module}: a room the table does not know (add it to ROOM_OF and ARCHITECTURE)"
    return ROOM_OF[first]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every processor module ``source`` (the text of ``module``) imports, absolute or relative, at the top
    or inside a function."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "processor")
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            if target.split(".")[0] != "processor":
                continue
            for alias in node.names:  # `from processor import wiring` imports the module processor.wiring
                submodule = PACKAGE / alias.name
                is_module = submodule.is_dir() or submodule.with_suffix(".py").exists()
                found.add(f"{target}.{alias.name}" if target == "processor" and is_module else target)
    return found


def verdict(source: str, target: str) -> str:
    own, other = room(source), room(target)
    return "ok" if other == own or other in ALLOWED[own] else "upward"


def arrows() -> list[tuple[str, str, str]]:
    """(importing module, imported module, verdict) for every import of the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        for target in sorted(imported(path.read_text(), source, path.name == "__init__.py")):
            found.append((source, target, verdict(source, target)))
    return found


def test_no_room_imports_a_room_above_it():
    upward = [f"{source} -> {target}" for source, target, found in arrows() if found == "upward"]
    assert not upward, "imports against the room table:\n" + "\n".join(upward)


def test_only_the_command_line_and_the_demo_build_from_wiring():
    users = {source for source, target, _ in arrows() if target == "processor.wiring"}
    assert users and all(room(u) in {"cli", "devkit"} for u in users), users


@pytest.mark.parametrize(
    ("source", "line", "expected"),
    [
        ("processor.stream.judge", "from processor.registration.lookup import X", "upward"),
        ("processor.ledger.build", "from processor import wiring", "upward"),
        ("processor.domain.rule", "from ..stream import judge", "upward"),
        ("processor.config", "import processor.observability.logs", "upward"),
        ("processor.stream.judge", "def f():\n    from processor.registration import feed", "upward"),
        ("processor.registration.feed", "from processor.kafka.edge import coordinates", "ok"),
        ("processor.history.stats", "from .archive import read_archive", "ok"),
        ("processor.history.stats", "from processor.ledger import store", "upward"),
        ("processor.cli.run", "from processor import wiring", "ok"),
    ],
)
def test_the_check_sees_every_form_of_import(source, line, expected):
    """The checker itself: absolute, relative, lazy and `from processor import <module>` forms are all seen."""
    (target,) = imported(line, source)
    assert verdict(source, target) == expected, target
