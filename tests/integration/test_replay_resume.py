"""A topic replay interrupted part-way resumes from its stored position on the real broker: what it had
judged is not judged again, and the outputs hold every SR of the window."""

from __future__ import annotations

import pytest

from processor import wiring
from processor.avro import codec
from processor.config import Mode, load_settings
from processor.history import replay
from processor.kafka.reading import HistoryReader
from processor.names import Schema
from tests.e2e.test_history import world  # noqa: F401  (the fixture: a world whose reference data is in Redis)

pytestmark = pytest.mark.integration


class Interrupted(Exception):
    pass


def _replay(settings, roles, **options):
    return replay.replay_topic(
        settings, *wiring.replay_parts(settings, "resume.", Mode.AUDIT), None, None, "resume.", roles, **options
    )


def test_an_interrupted_replay_resumes_where_its_last_checkpoint_was_and_writes_each_sr_once(world, monkeypatch):  # noqa: F811
    traffic = world.traffic(3000, seed=31)
    world.publish(traffic)
    for name, value in world.env().items():
        if name.startswith("SRGUARD_"):
            monkeypatch.setenv(name, value)
    settings = load_settings()
    monkeypatch.setattr(replay, "CHECKPOINT_EVERY_S", 0.0)  # a checkpoint after every batch
    batches = []

    def stop_after_two(reader: HistoryReader) -> None:
        batches.append(reader.read)
        if len(batches) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        _replay(settings, ["audit"], progress=stop_after_two)
    second = _replay(settings, ["audit"])
    assert 0 < second.resumed_at < len(traffic), "the second run starts after what the first one stored"
    assert second.resumed_at + second.read == len(traffic), "together the runs judged each SR once"
    incidents = {i.sr.request_id for i in traffic if i.rejected}
    # One more than there should be: a duplicate would show (the interrupted run's unstored outputs, aborted).
    written = world.outputs(f"resume.{world.topics.audit}", len(incidents) + 1, timeout=10)
    ids = [codec(Schema.SR_REJECTION).decode(m.value())["request_id"] for m in written]
    assert sorted(ids) == sorted(incidents), "each incident written once, read_committed (exactly-once resume)"
    third = _replay(settings, ["audit"])
    assert third.complete_before and third.read == 0
    restarted = _replay(settings, ["audit"], restart=True)
    assert restarted.read == len(traffic) and restarted.resumed_at == 0
