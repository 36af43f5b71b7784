"""The ``srguard`` command. Each module parses one group's flags, builds the settings, calls the room
that does the work and prints what it returns; nothing here decides or moves records."""

from __future__ import annotations

import typer

from processor import __version__
from processor.cli import demo as demo_command
from processor.cli import history, ledger, reference, run, stack
from processor.cli.common import console

app = typer.Typer(
    help="SECMP0063 Network Operator certificate guard for DCC Service Requests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print srguard's version."""
    console.print(f"srguard {__version__}")


app.command()(run.run)
app.command()(run.feed)
app.command()(history.export)
app.command()(history.report)
app.command()(demo_command.demo)
app.add_typer(reference.topics_app, name="topics")
app.add_typer(reference.registrations_app, name="registrations")
app.add_typer(reference.parties_app, name="parties")
app.add_typer(history.replay_app, name="replay")
app.add_typer(ledger.ledger_app, name="ledger")
app.add_typer(stack.stack_app, name="stack")
