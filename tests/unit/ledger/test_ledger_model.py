"""The NO-cell ledger without Redis or Kafka: per-cell state, what SRs, outcomes and snapshots do to it,
its packed form, and the review's cases that are about state (those about the truth of the report's
time are in tests/integration/test_ledger_truth.py)."""

from __future__ import annotations

import itertools
from functools import reduce

import pytest

from processor.duis.response import parse_response, response_xml
from processor.errors import DuisError
from processor.ledger.codec import EntityTable, decode, encode
from processor.ledger.events import request_ref
from processor.ledger.model import (
    EMPTY,
    Cell,
    Commissioning,
    DeviceCells,
    Holding,
    Outcome,
    Placement,
    Status,
    cancel,
    commission,
    outcome_of,
    place,
    settle,
)
from tests.duis_alerts import device_alert, future_dated_alert

DS, KA = Cell.DIGITAL_SIGNING, Cell.KEY_AGREEMENT
SUPPLIER = "90-B3-D5-1F-30-10-00-2A"
OTHER_SUPPLIER = "90-B3-D5-1F-30-10-00-2B"
LOND, EELC = "90-B3-D5-1F-30-20-00-01", "90-B3-D5-1F-30-20-00-02"
DAY = 86_400_000


def placed(at: int, counter: int, status: Status = Status.PENDING, by: str = SUPPLIER) -> Placement:
    return Placement(at, by, counter, status)


def both(entity: str) -> dict[Cell, str]:
    return {DS: entity, KA: entity}


def test_a_ka_only_update_changes_the_ka_cell_alone():
    cells = place(commission(EMPTY, DAY, SUPPLIER), both(LOND), placed(2 * DAY, 1))
    after = place(cells, {KA: EELC}, placed(3 * DAY, 2))
    assert after.ds == cells.ds and after.ka is not None and after.ka.entity == EELC


def test_a_placement_only_replaces_an_older_one_and_an_sr_applied_twice_changes_nothing():
    cells = place(EMPTY, both(LOND), placed(5 * DAY, 1))
    assert place(cells, both(EELC), placed(4 * DAY, 2)) == cells, "an older SR read later"
    assert place(cells, both(LOND), placed(5 * DAY, 1)) == cells


def test_the_order_srs_are_read_in_does_not_change_the_state():
    steps = [
        lambda c: commission(c, DAY, SUPPLIER),
        lambda c: place(c, both(LOND), placed(2 * DAY, 1, Status.CONFIRMED)),
        lambda c: place(c, {KA: EELC}, placed(3 * DAY, 2, Status.CONFIRMED)),
        lambda c: place(c, {DS: EELC}, placed(DAY // 2, 3, Status.CONFIRMED)),  # before commissioning: void
    ]
    states = {reduce(lambda c, step: step(c), order, EMPTY) for order in itertools.permutations(steps)}
    assert len(states) == 1
    (state,) = states
    assert (state.ds.entity, state.ka.entity) == (LOND, EELC)


def test_commissioning_clears_what_was_placed_before_it():
    cells = place(EMPTY, both(LOND), placed(2 * DAY, 1))
    again = commission(cells, 10 * DAY, OTHER_SUPPLIER)
    assert again.ds is None and again.ka is None and again.commissioned == Commissioning(10 * DAY, OTHER_SUPPLIER)
    assert commission(again, 9 * DAY, SUPPLIER) == again, "an older commissioning read later"


@pytest.mark.parametrize(
    ("outcome", "ds_entity", "status"),
    [
        (Outcome.CONFIRMED, EELC, Status.CONFIRMED),
        (Outcome.FAILED, LOND, Status.CONFIRMED),  # the cell keeps what it held before
        (Outcome.CANCELLED, LOND, Status.CONFIRMED),  # a future-dated SR cancelled: never executed
        (Outcome.PENDING, EELC, Status.PENDING),  # acknowledged only
    ],
)
def test_an_outcome_confirms_or_undoes_its_own_placement(outcome, ds_entity, status):
    before = place(EMPTY, both(LOND), placed(2 * DAY, 1, Status.CONFIRMED))
    pending = place(before, both(EELC), placed(3 * DAY, 7))
    assert pending.pending and pending.ds.previous == before.ds
    settled = settle(pending, SUPPLIER, 7, outcome)
    assert settled.ds.entity == ds_entity and settled.ds.placement.status is status
    assert settled.ds.previous is None or outcome is Outcome.PENDING
    assert settle(pending, SUPPLIER, 8, Outcome.FAILED) == pending, "another SR's outcome changes nothing"
    assert settle(pending, OTHER_SUPPLIER, 7, Outcome.FAILED) == pending


def test_a_failed_first_placement_leaves_the_cells_pre_loaded():
    cells = place(commission(EMPTY, DAY, SUPPLIER), both(LOND), placed(2 * DAY, 1))
    assert settle(cells, SUPPLIER, 1, Outcome.FAILED) == commission(EMPTY, DAY, SUPPLIER)


def test_a_snapshot_is_kept_unless_something_newer_was_placed():
    snapshot = Placement(5 * DAY, "", 0, Status.BASELINE)
    newer = place(EMPTY, both(LOND), placed(6 * DAY, 1))
    assert place(newer, both(EELC), snapshot) == newer
    older = place(EMPTY, both(LOND), placed(4 * DAY, 1))
    assert place(older, both(EELC), snapshot).ds.entity == EELC


@pytest.mark.parametrize(
    "cells",
    [
        EMPTY,
        commission(EMPTY, DAY, SUPPLIER),
        place(commission(EMPTY, DAY, SUPPLIER), both(LOND), placed(2 * DAY, 10**18, Status.CONFIRMED)),
        place(place(EMPTY, both(LOND), placed(2 * DAY, 1)), {KA: EELC}, placed(3 * DAY, 2)),
        DeviceCells(None, Holding("unreadable", Placement(5000, "", 0, Status.BASELINE)), None),
    ],
)
def test_cells_survive_their_packed_form(cells):
    table = EntityTable()
    assert decode(encode(cells, table), EntityTable(list(table.names))) == cells


def test_the_usual_device_packs_into_34_bytes_and_numbers_entities_in_the_order_met():
    table = EntityTable()
    cells = place(commission(EMPTY, DAY, SUPPLIER), both(LOND), placed(2 * DAY, 5, Status.CONFIRMED))
    assert len(encode(cells, table)) == 34  # flags 1, commissioning 8, DS 21, KA sharing DS's SR 4
    assert table.names == ["", SUPPLIER, LOND] and table.added == {SUPPLIER: 1, LOND: 2}


def test_request_ids_name_originator_device_and_counter():
    ref = request_ref("90-b3-d5-1f-30-10-00-2a:00-12-4B-00-00-00-00-7B:3626")
    assert ref is not None and (ref.originator, ref.device, ref.counter) == (SUPPLIER, "00-12-4B-00-00-00-00-7B", 3626)
    other = request_ref("REQ-1", SUPPLIER, "00124b000000007b")
    assert other is not None and other.device == "00-12-4B-00-00-00-00-7B" and other.counter > 0
    assert request_ref("REQ-1", SUPPLIER, "00124b000000007b") == other, "the same id, the same counter"
    assert request_ref("no:eui:1") is None


@pytest.mark.parametrize(
    ("code", "outcome"), [("I0", Outcome.CONFIRMED), ("I99", Outcome.PENDING), ("E061501", Outcome.FAILED)]
)
def test_duis_response_codes(code, outcome):
    assert outcome_of(code) is outcome


def test_duis_responses_are_read_and_other_documents_refused():
    request_id = f"{SUPPLIER}:00-12-4B-00-00-00-00-7B:9"
    response = parse_response(response_xml(request_id, "E062101", "6.21", 1_700_000_000_000))
    assert (response.request_id, response.response_code, response.variant) == (request_id, "E062101", "6.21")
    assert response.responded_at == 1_700_000_000_000
    with pytest.raises(DuisError, match="not a DUIS Response"):
        parse_response(response_xml(request_id, "I0", "6.21", 0).replace(b"sr:Response", b"sr:Request"))
    with pytest.raises(DuisError, match="DTDs and entities are refused"):
        parse_response(b'<!DOCTYPE x [<!ENTITY a "b">]>' + response_xml(request_id, "I0", "6.21", 0))


def test_a_future_dated_alert_answers_its_sr_and_other_alerts_answer_none():
    request_id = f"{SUPPLIER}:00-12-4B-00-00-00-00-7B:10"
    executed = parse_response(future_dated_alert(request_id, "I0", "6.15.1", 1_700_000_000_000))
    assert executed is not None
    assert (executed.request_id, executed.response_code, executed.variant) == (request_id, "I0", "6.15.1")
    assert parse_response(device_alert(f"00-12-4B-00-00-00-00-7B:{SUPPLIER}:11", 0)) is None
    with pytest.raises(DuisError, match="no Header/RequestID"):  # neither an answer nor an alert
        parse_response(device_alert("x", 0).replace(b"DeviceAlertMessage", b"SomethingElse"))


def test_an_earlier_placements_confirmation_survives_a_failed_retry_read_after_it():
    # The build reads every SR before every response: SR 1 placed, SR 2 (a retry of the same certificates)
    # placed, then SR 1's I0, then SR 2's error. The cell must end confirmed with SR 1, as in real time.
    cells = place(place(EMPTY, both(LOND), placed(2 * DAY, 1)), both(LOND), placed(3 * DAY, 2))
    answered = settle(cells, SUPPLIER, 1, Outcome.CONFIRMED)
    after = settle(answered, SUPPLIER, 2, Outcome.FAILED)
    assert after.ds == Holding(LOND, placed(2 * DAY, 1, Status.CONFIRMED)) and not after.pending
    real_time = settle(
        place(
            settle(place(EMPTY, both(LOND), placed(2 * DAY, 1)), SUPPLIER, 1, Outcome.CONFIRMED),
            both(LOND),
            placed(3 * DAY, 2),
        ),
        SUPPLIER,
        2,
        Outcome.FAILED,
    )
    assert after == real_time
    failed_first = settle(settle(cells, SUPPLIER, 1, Outcome.FAILED), SUPPLIER, 2, Outcome.FAILED)
    assert failed_first.ds is None, "both failed: what SR 1 replaced is not kept, so the cell is unknown"


def test_a_cancellation_undoes_its_originators_pending_future_dated_placement_only():
    before = place(EMPTY, both(LOND), placed(2 * DAY, 1, Status.CONFIRMED))
    future = place(before, both(EELC), placed(40 * DAY, 2))  # sent on day 3, executes on day 40
    assert cancel(future, SUPPLIER, 3 * DAY) == before
    assert cancel(future, OTHER_SUPPLIER, 3 * DAY) == future, "another originator's cancellation"
    assert cancel(future, SUPPLIER, 41 * DAY) == future, "already executed by then"
    assert cancel(before, SUPPLIER, DAY) == before, "nothing pending"
