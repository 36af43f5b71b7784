"""``srguard stack up|down|status``: the embedded broker and Redis for development and tests."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from processor.cli.common import console, err, fail
from processor.cli.examples import example
from processor.cli.output import Output, OutputFormat, show
from processor.errors import ExitCode

stack_app = typer.Typer(
    help="The embedded broker (Apache Kafka; tansu where no JVM) and Redis on loopback.", no_args_is_help=True
)

StateFile = Annotated[
    Path | None,
    typer.Option(
        "--state-file",
        help="Where a detached stack records its processes [default: $XDG_STATE_HOME/srguard/stack.json].",
        envvar="SRGUARD_STACK_STATE",
        show_default=False,
    ),
]


@stack_app.command("up", epilog=example("stack up"))
def stack_up(
    state_file: StateFile = None,
    foreground: Annotated[bool, typer.Option(help="Stay attached; Ctrl-C stops the stack.")] = False,
    persist: Annotated[
        bool, typer.Option(help="Kafka and Redis keep their data in the stack's folder across restarts.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the addresses as JSON.")] = False,
    as_env: Annotated[
        bool, typer.Option("--env", help='Print only the export lines, for eval "$(srguard stack up --env)".')
    ] = False,
    broker: Annotated[
        str | None,
        typer.Option(
            help="kafka (Apache Kafka, no fallback), tansu, or auto: Apache Kafka where Java and Maven allow.",
            envvar="SRGUARD_STACK_BROKER",
            show_default="auto",
        ),
    ] = None,
    brokers: Annotated[
        int,
        typer.Option(help="1, or 3: a replicated Apache Kafka cluster (three KRaft nodes, RF 3, min ISR 2)."),
    ] = 1,
    secure: Annotated[
        bool,
        typer.Option(
            "--secure",
            help="SASL_SSL (SCRAM-SHA-512) and mTLS listeners, ACLs (nothing allowed unless granted), Redis over "
            "TLS with ACL users; each principal's settings in a config file of its own.",
        ),
    ] = False,
) -> None:
    """Start a broker (Apache Kafka, KRaft) and redis-server on free loopback ports and print their addresses."""
    from processor.devkit.stack import EmbeddedStack, StackState, default_state_file, is_alive, print_state
    from processor.devkit.stack.state import exports

    state_file = state_file or default_state_file()
    running = StackState.load(state_file) if state_file.exists() else None
    if running is not None and any(is_alive(s) for s in running.services):
        if as_env:  # eval "$(srguard stack up --env)" in a second shell: point it at the stack that runs
            err.print(f"a stack is already running (see {state_file}): its addresses")
            for line in exports(running):
                print(line)
            return
        raise fail(f"a stack is already running (see {state_file}); run 'srguard stack down' first")
    stack = EmbeddedStack(
        state_file.parent / "stack",
        detach=not foreground,
        persist=persist,
        broker=broker,
        brokers=brokers,
        secure=secure,
    )
    state = stack.start()
    if as_env:
        print("\n".join(exports(state)))
    elif as_json:
        addresses = {
            "kafka_bootstrap": state.kafka_bootstrap,
            "redis_url": state.redis_url,
            "broker": state.broker,
            "broker_start_seconds": state.broker_start_seconds,
        }
        console.print_json(json.dumps(addresses))
    else:
        print_state(state, console)
    if not foreground:
        state.save(state_file)
        return
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    console.print("stack attached: Ctrl-C stops it")
    try:
        while not stopping and all(is_alive(s) for s in state.services):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


@stack_app.command("down", epilog=example("stack down"))
def stack_down(state_file: StateFile = None) -> None:
    """Stop a detached stack: SIGTERM, then SIGKILL after 15 s; nothing is left behind."""
    from processor.devkit.stack import StackState, default_state_file, stop_services

    state_file = state_file or default_state_file()
    if not state_file.exists():
        console.print("no stack is recorded; nothing to stop")
        return
    stopped = stop_services(StackState.load(state_file).services)
    state_file.unlink()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@stack_app.command("status", epilog=example("stack status"))
def stack_status(
    state_file: StateFile = None,
    as_env: Annotated[bool, typer.Option("--env", help="Print only the export lines.")] = False,
    output: Output = OutputFormat.TEXT,
) -> None:
    """Show the recorded stack; exit 1 when it is not (fully) running."""
    from processor.devkit.stack import StackState, default_state_file, is_alive, print_state
    from processor.devkit.stack.state import exports

    state_file = state_file or default_state_file()
    if not state_file.exists():
        raise fail("no stack is recorded; start one with 'srguard stack up'", code=ExitCode.FAILED)
    state = StackState.load(state_file)
    if as_env:
        print("\n".join(exports(state)))
    elif output is OutputFormat.JSON:
        services = [{**asdict(s), "running": is_alive(s)} for s in state.services]
        show(output, "", {"services": services, "broker": state.broker, "exports": exports(state)})
    else:
        print_state(state, console)
    if not all(is_alive(s) for s in state.services):
        raise typer.Exit(ExitCode.FAILED)


@stack_app.command("kit", epilog=example("stack kit"))
def stack_kit(
    folder: Annotated[Path, typer.Argument(help="Where to write the kit (created, mode 0700).")],
    chown: Annotated[
        list[str] | None,
        typer.Option(
            help="SERVICE=UID: hand kafka's, redis's or srguard's files to that container user (as root).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """The secured stack's material for docker-compose.secure.yml: CA, certificates, passwords, the broker's
    config and start script, Redis's ACL users, one srguard config per principal (the secrets never printed)."""
    from processor.devkit.stack.kit import SERVICES, hand_over, write_kit

    owners: dict[str, int] = {}
    for given in chown or []:
        service, _, uid = given.partition("=")
        if service not in SERVICES or not uid.isdigit():
            raise fail(f"--chown {given!r}: expected SERVICE=UID with SERVICE one of {', '.join(SERVICES)}")
        owners[service] = int(uid)
    if folder.exists() and any(folder.iterdir()):
        console.print(f"{folder} holds a kit already: kept (delete it for new certificates and passwords)")
        return
    try:
        kit = write_kit(folder)
    except OSError as exc:
        raise fail(f"cannot write the kit into {folder}: {exc.strerror}") from exc
    try:
        hand_over(kit, owners)
    except PermissionError as exc:
        raise fail(f"--chown needs root: {exc}") from exc
    for service, paths in kit.files.items():
        console.print(f"{service}: {', '.join(path.name for path in paths)}")
