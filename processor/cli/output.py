"""``--output text|json``: a table for people, or one JSON object on stdout for tools."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum, StrEnum
from typing import Annotated

import typer
from rich.console import RenderableType

from processor.cli.common import console


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


Output = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="text (a table for people) or json (one object on stdout, for tools)."),
]


def plain(value: object) -> object:
    """A value as JSON holds it: dataclasses as objects, enums as their values, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def show(output: OutputFormat, table: RenderableType, data: object) -> None:
    """The table, or with ``--output json`` the data as one JSON object on stdout (never cut or wrapped)."""
    if output is OutputFormat.JSON:
        print(json.dumps(plain(data)))
    else:
        console.print(table)
