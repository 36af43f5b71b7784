"""One example a command (``--help`` shows it under the options): what a user types first. A test runs
``--help`` for every command and checks each has its example."""

from __future__ import annotations

EXAMPLES: dict[str, tuple[str, ...]] = {
    "version": ("srguard version",),
    "run": (
        "srguard run --trust-store smki-oca.pem                     # enforce, exactly-once",
        "srguard run --mode audit --processing-guarantee at_least_once",
    ),
    "feed": (
        "srguard feed            # with SRGUARD_EMBEDDED_FEED=false on every `srguard run`",
        "srguard feed --once     # catch Redis up, then exit (before a replay or a report)",
    ),
    "export": ("srguard export sr-2019.avro --since 2019-01-01 --until 2020-01-01",),
    "report": (
        "srguard report --topic replay.2019.dcc.sr.audit --requests-topic history.sr.2019 --out report-2019",
        "srguard report --archive rejections.avro --requests-archive sr-2019.avro",
    ),
    "evidence": ("srguard evidence --since 2026-01-01 --out evidence-2026",),
    "explain": (
        "srguard explain 90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1000",
        "srguard explain --file sr.xml --at 2026-11-02T10:00:00Z --output json",
    ),
    "suspects": (
        "srguard suspects --since 2026-01-01 --out suspects-2026     # rejected + audit + accepted topics, ledger",
        "srguard suspects --archive rejections-2025.avro --accepted '' --no-ledger --output json",
    ),
    "demo": ("srguard demo --duis --srs 20000",),
    "acls": (
        "srguard acls --principal User:srguard-run --for run               # kafka-acls.sh lines to review",
        "SRGUARD_CONFIG=admin.toml srguard acls --principal User:srguard-feed --for feed --apply",
    ),
    "config show": ("SRGUARD_MODE=audit srguard config show --config srguard.toml",),
    "topics create": ("srguard topics create --partitions 12 --output json",),
    "registrations load": ("srguard registrations load rdp-refresh.csv.gz --workers 4",),
    "registrations get": ("srguard registrations get 1200000000020 --at 2026-11-02T10:00:00Z",),
    "parties load": ("srguard parties load party-directory.csv",),
    "parties get": ("srguard parties get 90-B3-D5-1F-30-01-00-00 -o json",),
    "devices load": ("srguard devices load device-inventory.csv",),
    "devices get": ("srguard devices get 00-12-4B-00-00-00-06-B5 --at 2026-01-01",),
    "replay file": ("srguard replay file sr-2019.avro --topic history.sr.2019 --rate 5000",),
    "replay topic": (
        "srguard replay topic --topic history.sr.2019 --since 2019-01-01 --until 2020-01-01 "
        "--output-prefix replay.2019. --outputs audit",
    ),
    "ledger build": ("srguard ledger build --outcomes dcc.sr.outcomes",),
    "ledger baseline": ("srguard ledger baseline cells-2026-01-01.csv",),
    "ledger get": ("srguard ledger get 00-12-4B-00-00-00-06-B5",),
    "ledger report": ("srguard ledger report --min-days 30 --csv-dir ledger-by-no",),
    "stack up": ('eval "$(srguard stack up --env)"      # --brokers 3: a replicated cluster',),
    "stack down": ("srguard stack down",),
    "stack status": ("srguard stack status -o json",),
    "stack kit": ("srguard stack kit ./secure     # docker-compose.secure.yml runs it, --chown kafka=1000 ...",),
    "simulate publish": (
        "srguard simulate publish --meter-points 2000 --srs 10000 --seed 1 --duis",
        "srguard simulate publish --srs 10000 --timestamps sr     # SR history, 2019-06 .. 2025-06",
    ),
}


def example(command: str) -> str:
    """The ``epilog`` of ``command``'s help."""
    return "\n\n".join(["Example:" if len(EXAMPLES[command]) == 1 else "Examples:", *EXAMPLES[command]])
