"""``srguard acls``: the Kafka ACLs a command needs, printed (kafka-acls.sh lines or JSON) or applied."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer
from confluent_kafka import KafkaException

from processor.cli.common import Bootstrap, ConfigFile, console, fail, settings_from
from processor.cli.output import Output, OutputFormat
from processor.kafka.acls import COMMANDS, acl_lines, apply, grants
from processor.kafka.edge import error_text


def acls(
    principal: Annotated[str, typer.Option(help="The Kafka principal, e.g. User:srguard-run.")],
    command: Annotated[
        list[str] | None,
        typer.Option("--for", help=f"The command it runs, repeatable: {', '.join(COMMANDS)} [default: run]."),
    ] = None,
    group: Annotated[str | None, typer.Option(help="Its consumer group; default: the group_id setting.")] = None,
    transactional_id_prefix: Annotated[
        str | None, typer.Option(help="run's transactional ids start with this; default: '<group>-'.")
    ] = None,
    output_prefix: Annotated[str, typer.Option(help="replay-topic's --output-prefix.")] = "replay.",
    embedded_feed: Annotated[
        bool | None,
        typer.Option(
            help="Whether `run` feeds Redis itself (then it reads the reference topics too); default: the "
            "embedded_feed setting.",
            show_default=False,
        ),
    ] = None,
    apply_them: Annotated[
        bool, typer.Option("--apply", help="Create the bindings on the cluster (as the configured principal).")
    ] = False,
    output: Output = OutputFormat.TEXT,
    config: ConfigFile = None,
    bootstrap_servers: Bootstrap = None,
) -> None:
    """Print the least-privilege ACL bindings a principal needs for srguard's commands on the configured topics,
    as kafka-acls.sh commands (or JSON), or create them with --apply."""
    if not principal.startswith("User:") or len(principal) <= len("User:"):
        raise fail(f"--principal is a Kafka principal such as User:srguard-run, not {principal!r}")
    wanted = command or ["run"]
    unknown = [c for c in wanted if c not in COMMANDS]
    if unknown:
        raise fail(f"--for takes {', '.join(COMMANDS)}, not {', '.join(unknown)}")
    settings = settings_from(config, bootstrap_servers=bootstrap_servers)
    found = []
    for name in wanted:
        found += grants(
            name,
            principal,
            settings.topics,
            group or settings.group_id,
            transactional_id_prefix=transactional_id_prefix,
            embedded_feed=settings.embedded_feed if embedded_feed is None else embedded_feed,
            output_prefix=output_prefix,
        )
    found = list(dict.fromkeys(found))  # a binding two commands share, once
    if apply_them:
        try:
            count = apply(settings.kafka_config("admin"), found)
        except KafkaException as exc:
            raise fail(f"could not create the ACLs on {settings.bootstrap_servers}: {error_text(exc)}") from exc
        console.print(f"created {count} ACL bindings for {principal} ({', '.join(wanted)})")
        return
    if output is OutputFormat.JSON:
        print(json.dumps([dataclasses.asdict(g) for g in found]))
        return
    for line in acl_lines(found, settings.bootstrap_servers):
        print(line)
