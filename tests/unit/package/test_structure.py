"""The shape of the package, checked: small modules, names declared once, dev tooling fenced off,
no plotting library in the processor's image."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

from processor import names

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "processor"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 330
MAX_COMMAND_LINES = 250  # a command module parses, configures, calls and prints: nothing more


def _imports(tree: ast.AST, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only and isinstance(tree, ast.Module) else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_module_is_long():
    long = {str(p.relative_to(ROOT)): n for p in MODULES if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these: {long}"


def test_no_command_module_is_long():
    commands = sorted((PACKAGE / "cli").glob("*.py"))
    long = {p.name: n for p in commands if (n := len(p.read_text().splitlines())) > MAX_COMMAND_LINES}
    assert commands and not long, f"move the work into its room: {long}"


def test_the_processor_never_imports_dev_tooling_and_the_cli_only_when_a_dev_command_runs():
    for path in MODULES:
        relative = path.relative_to(PACKAGE).parts
        if relative[0] == "devkit":
            continue
        tree = ast.parse(path.read_text())
        everywhere = {m for m in _imports(tree, top_level_only=False) if m.startswith("processor.devkit")}
        at_top = {m for m in _imports(tree, top_level_only=True) if m.startswith("processor.devkit")}
        if relative[0] == "cli":
            assert not at_top, f"{path}: import dev tooling inside the command that needs it"
        else:
            assert not everywhere, f"{path} imports {everywhere}"


def test_names_are_declared_only_in_the_names_module():
    declared = [
        value
        for value in vars(names).values()
        if (isinstance(value, str) and value.startswith("srguard-")) or isinstance(value, names.Schema)
    ]
    declared += list(names.Topics().model_dump().values())
    assert len(declared) > 15
    for path in MODULES:
        if path.name == "names.py":
            continue
        literals = {
            node.value
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        repeated = sorted(str(v) for v in declared if str(v) in literals)
        assert not repeated, f"{path.relative_to(ROOT)} spells out {repeated}: use processor.names"


def test_matplotlib_is_an_extra_the_processor_image_does_not_install():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("matplotlib") for d in project["dependencies"])
    assert any(d.startswith("matplotlib") for d in project["optional-dependencies"]["report"])
    installs = re.findall(r"pip install[^\n]*", (ROOT / "Dockerfile").read_text())
    assert installs and all("[" not in line for line in installs), installs


def test_make_test_runs_the_type_checker():
    lint = (ROOT / "Makefile").read_text().split("lint:", 1)[1].split("\n\n", 1)[0]
    assert "mypy" in lint and "ruff check" in lint
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["strict"] is True


def test_unit_test_folders_are_named_after_the_rooms_they_test():
    """tests/unit/<room>/ for each room; ``package`` holds the package's shape, ``deploy`` the deploy files."""
    rooms = {p.stem for p in PACKAGE.iterdir() if not p.name.startswith("__")} | {"package", "deploy", "bench"}
    folders = {p.name for p in (ROOT / "tests" / "unit").iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders and folders <= rooms, f"not a room: {sorted(folders - rooms)}"


def test_the_image_leaves_the_development_tools_out_and_their_commands_say_so(monkeypatch):
    dockerfile = (ROOT / "Dockerfile").read_text()
    image = dockerfile.rsplit("FROM ", 1)[1]  # the last stage: the default target
    assert image.startswith("python:3.11-slim AS processor") and "COPY --from=build /wheels/processor" in image
    build = dockerfile.split("FROM ", 2)[1]  # the processor's wheel is built once the devkit is removed
    assert build.index("rm -rf processor/devkit") < build.index("--wheel-dir /wheels/processor")
    from typer.testing import CliRunner

    from processor.cli import app

    monkeypatch.setitem(sys.modules, "processor.devkit", None)  # as in the image: the package is not there
    monkeypatch.setitem(sys.modules, "processor.devkit.stack", None)
    result = CliRunner().invoke(app, ["stack", "status"])
    assert result.exit_code == 2 and "no development tools" in result.output, result.output
