"""``srguard run`` with a fault injected by the test, not by production code: SIGKILL after producing
batch N (the first argument), before its commit, so the outputs sit in an open transaction."""

from __future__ import annotations

import functools
import os
import signal
import sys

from confluent_kafka import Producer

from processor import wiring
from processor.cli import app


def crash_before_commit(at_batch: int, batch: int, producer: Producer) -> None:
    if batch == at_batch:
        producer.flush(30)  # the outputs are in the open transaction on the broker
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    at = int(sys.argv.pop(1))
    wiring.processor_app = functools.partial(  # type: ignore[assignment]
        wiring.processor_app, before_commit=functools.partial(crash_before_commit, at)
    )
    app(prog_name="srguard")
