"""The ``srguard`` command. Each module parses one group's flags, builds the settings, calls the room
that does the work and prints what it returns; nothing here decides or moves records."""

from __future__ import annotations

from typing import Annotated

import typer

from processor import __version__
from processor.cli import acls as acls_command
from processor.cli import demo as demo_command
from processor.cli import evidence as evidence_command
from processor.cli import explain as explain_command
from processor.cli import history, ledger, reference, run, settings, simulate, stack
from processor.cli import report as report_command
from processor.cli import suspects as suspects_command
from processor.cli.common import Commands, console
from processor.cli.examples import example
from processor.observability import logs
from processor.observability.logs import LogFormat, LogLevel

app = typer.Typer(
    help="SECMP0063 Network Operator certificate guard for DCC Service Requests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=Commands,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        console.print(f"srguard {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            help="Least severe log lines shown (stderr) [default: info; warning for the demo].",
            envvar="SRGUARD_LOG_LEVEL",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        LogFormat, typer.Option(help="text, or json: one object a line.", envvar="SRGUARD_LOG_FORMAT")
    ] = LogFormat.TEXT,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True)
    ] = False,
) -> None:
    """SECMP0063 Network Operator certificate guard for DCC Service Requests."""
    logs.configure(log_level or LogLevel.INFO, log_format)


@app.command(epilog=example("version"))
def version() -> None:
    """Print srguard's version."""
    console.print(f"srguard {__version__}")


app.command(epilog=example("run"))(run.run)
app.command(epilog=example("feed"))(run.feed)
app.command(epilog=example("export"))(history.export)
app.command(epilog=example("report"))(report_command.report)
app.command(epilog=example("evidence"))(evidence_command.evidence)
app.command("explain", epilog=example("explain"))(explain_command.explain_command)
app.command(epilog=example("suspects"))(suspects_command.suspects)
app.command(epilog=example("demo"))(demo_command.demo)
app.command(epilog=example("acls"))(acls_command.acls)
app.add_typer(settings.config_app, name="config")
app.add_typer(reference.topics_app, name="topics")
app.add_typer(reference.registrations_app, name="registrations")
app.add_typer(reference.parties_app, name="parties")
app.add_typer(reference.devices_app, name="devices")
app.add_typer(history.replay_app, name="replay")
app.add_typer(ledger.ledger_app, name="ledger")
app.add_typer(stack.stack_app, name="stack")
app.add_typer(simulate.simulate_app, name="simulate")
