"""``srguard config show``: the settings a command would run with, each with its source, secrets redacted."""

from __future__ import annotations

import typer
from rich.table import Table

from processor.cli.common import ConfigFile, fail
from processor.cli.examples import example
from processor.cli.output import Output, OutputFormat, show
from processor.config import effective_settings
from processor.errors import ConfigFileError

config_app = typer.Typer(help="srguard's settings.", no_args_is_help=True)


@config_app.command("show", epilog=example("config show"))
def config_show(config: ConfigFile = None, output: Output = OutputFormat.TEXT) -> None:
    """Print every setting's effective value and where it came from (environment, config file or default);
    passwords and other secrets are redacted.

    Example: SRGUARD_MODE=audit srguard config show --config srguard.toml"""
    try:
        rows = effective_settings(config)
    except (ValueError, ConfigFileError) as exc:
        raise fail(f"bad configuration: {exc}") from exc
    table = Table("setting", "value", "source")
    for row in rows:
        table.add_row(row.name, row.value, row.source, style=None if row.source == "default" else "bold")
    show(output, table, {row.name: {"value": row.value, "source": row.source} for row in rows})
