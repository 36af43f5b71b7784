"""`run`'s progress line: read from the metrics, a rate over the interval, fields for JSON logs."""

from __future__ import annotations

import json
import logging
import threading

from processor.observability import progress
from processor.observability.logs import JsonFormatter
from processor.observability.metrics import Metrics


def _metrics() -> Metrics:
    metrics = Metrics()
    metrics.accepted.labels("out_of_scope").inc(900)
    metrics.accepted.labels("pass").inc(80)
    metrics.rejected.labels("E062106", "wrong_network_operator").inc(15)
    metrics.dlq.labels("malformed").inc(5)
    return metrics


def test_totals_sum_every_label_and_the_lag_of_every_partition():
    metrics = _metrics()
    assert progress.totals(metrics.registry).lag is None  # no statistics yet: unknown, not zero
    metrics.consumer_lag.labels("dcc.sr.requests", "0").set(40)
    metrics.consumer_lag.labels("dcc.sr.requests", "1").set(2)
    found = progress.totals(metrics.registry)
    assert found == progress.Totals(accepted=980, rejected=15, audited=0, dlq=5, lag=42)
    assert found.decided == 1000


def test_the_line_gives_the_rate_over_the_interval():
    before = progress.Totals(100, 0, 0, 0, None)
    now = progress.Totals(1_300, 20, 0, 80, 7)
    text, fields = progress.line(before, now, 10.0)
    assert text == (
        "progress: 1,400 SRs decided (130 SR/s over the last 10s): 1,300 accepted, 20 rejected, 0 audit, 80 DLQ; "
        "lag 7 records"
    )
    assert fields["sr_per_s"] == 130.0 and fields["decided"] == 1_400 and fields["lag"] == 7


def test_a_json_log_line_carries_the_figures_as_fields():
    record = logging.LogRecord("srguard.progress", logging.INFO, __file__, 1, "progress: …", None, None)
    record.fields = {"decided": 5, "sr_per_s": 2.5, "message": "not overwritten"}
    entry = json.loads(JsonFormatter().format(record))
    assert entry["decided"] == 5 and entry["sr_per_s"] == 2.5 and entry["message"] == "progress: …"


def test_report_logs_every_interval_until_stopped(caplog):
    metrics, stop = _metrics(), threading.Event()
    with caplog.at_level(logging.INFO, logger="srguard.progress"):
        worker = threading.Thread(target=progress.report, args=(metrics.registry, stop, 0.05))
        worker.start()
        while len(caplog.records) < 2:
            stop.wait(0.01)
        stop.set()
        worker.join(2)
    assert not worker.is_alive()
    assert caplog.records[0].getMessage().startswith("progress: 1,000 SRs decided")


def test_no_line_when_turned_off(caplog):
    with caplog.at_level(logging.INFO, logger="srguard.progress"):
        progress.report(_metrics().registry, threading.Event(), 0)
    assert not caplog.records
