"""The peer srguard is measured against: its consume -> produce -> commit loop with nothing decided.

Same client settings, same batching (a batch is the first message plus whatever has arrived behind it),
same guarantee (srguard's own at-least-once commits, or one transaction per batch), the same bytes out. The
gap between this loop and srguard is what deciding costs; this loop itself is what the broker allows.

``python -m bench.relay BOOTSTRAP SOURCE TARGET GUARANTEE BATCH [CONFIG_JSON]`` relays until SIGTERM.
Its batches are taken by srguard's own take_batch, waiting as long as srguard does by default.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from processor.config import Settings
from processor.kafka.edge import take_batch, to_inputs
from processor.kafka.records import Output, span_of
from processor.stream.commit import CommitWhenDelivered


class Relay:
    def __init__(
        self, bootstrap: str, source: str, target: str, guarantee: str, batch: int, config: dict[str, object]
    ) -> None:
        self.target, self.batch = target, batch
        defaults = Settings(processing_guarantee=guarantee)
        self.batch_wait_s = defaults.batch_wait_s
        self.started: float | None = None  # perf_counter() when the first batch arrived
        group = f"relay-{uuid.uuid4().hex[:8]}"
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                **config,
            }
        )
        self.transactional = guarantee == "exactly_once"
        extra = {"transactional.id": group} if self.transactional else {}
        self.producer = Producer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5, **extra}
        )
        if self.transactional:
            self.producer.init_transactions(30)
        self.delivered = CommitWhenDelivered(self.producer, self.consumer, defaults.commit_interval_ms / 1000)
        self.consumer.subscribe([source])

    def run(self, done: Callable[[int], bool]) -> int:
        """Relay batches until ``done(copied)``; returns how many messages were copied."""
        copied = 0
        try:
            while not done(copied):
                messages = [m for m in take_batch(self.consumer, self.batch, self.batch_wait_s) if not m.error()]
                if messages:
                    self.started = self.started or time.perf_counter()
                    self._copy(messages)
                    copied += len(messages)
        finally:
            self.delivered.settle(10)
            self.consumer.close()
        return copied

    def _copy(self, messages: list[Message]) -> None:
        if not self.transactional:
            inputs = to_inputs(messages)
            self.delivered([Output(self.target, i.key, i.value, i.headers) for i in inputs], span_of(inputs))
            return
        last = {(m.topic(), m.partition()): m.offset() for m in messages}
        positions = [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
        self.producer.begin_transaction()
        for msg in messages:
            self.producer.produce(self.target, msg.value(), msg.key(), headers=msg.headers())
        self.producer.send_offsets_to_transaction(positions, self.consumer.consumer_group_metadata(), 30)
        self.producer.commit_transaction(60)


def main(argv: list[str]) -> None:
    bootstrap, source, target, guarantee, batch = argv[:5]
    config = json.loads(argv[5]) if len(argv) > 5 else {}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    Relay(bootstrap, source, target, guarantee, int(batch), config).run(lambda _: stop.is_set())


if __name__ == "__main__":
    main(sys.argv[1:])
