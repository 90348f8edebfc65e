"""Pure reconciliation decisions (R-REC, R-EXEC-4; LESSONS 3, 26): venue report → FSM event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import T0, make_order, make_report
from hypothesis import given, settings
from hypothesis import strategies as st

from btcbot.domain.models import ExchangeOrderStatus, OrderReport, Side
from btcbot.domain.order_fsm import IN_FLIGHT, LIVE, TERMINAL, TRANSITIONS, OrderEvent, OrderStatus, transition
from btcbot.domain.reconcile import (
    Fix,
    FixKind,
    SearchBudget,
    VenueFacts,
    event_for_report,
    plan_fixes,
    search_exhausted,
)

S, E, X = OrderStatus, OrderEvent, ExchangeOrderStatus
NON_TERMINAL = sorted(IN_FLIGHT | LIVE)
BUDGET = SearchBudget(max_probes=3, max_age_seconds=300)


# -- event_for_report ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", NON_TERMINAL)
def test_event_for_report_closed_maps_to_filled(status: OrderStatus) -> None:
    # LESSONS 26: BTCTurk's "Closed" is fully filled; it must never leave the order unresolved
    order = make_order(status=status)
    event = event_for_report(order, make_report(X.CLOSED))
    assert event is E.FILLED
    assert transition(status, event) is S.FILLED


@pytest.mark.parametrize("status", NON_TERMINAL)
def test_event_for_report_canceled_maps_to_canceled(status: OrderStatus) -> None:
    event = event_for_report(make_order(status=status), make_report(X.CANCELED))
    assert event is E.CANCELED
    assert transition(status, event) is S.CANCELED


@pytest.mark.parametrize("status", [S.OPEN, S.SUBMITTING, S.UNKNOWN, S.PARTIALLY_FILLED])
def test_event_for_report_partial_maps_to_partially_filled(status: OrderStatus) -> None:
    report = make_report(X.PARTIAL, left_quantity="0.00004")
    event = event_for_report(make_order(status=status), report)
    assert event is E.PARTIALLY_FILLED
    assert transition(status, event) is S.PARTIALLY_FILLED


def test_event_for_report_untouched_with_fill_maps_to_partially_filled() -> None:
    report = make_report(X.UNTOUCHED, quantity="0.0001", left_quantity="0.00007")
    assert report.filled_quantity > 0
    assert event_for_report(make_order(status=S.OPEN), report) is E.PARTIALLY_FILLED


@pytest.mark.parametrize("status", [S.SUBMITTING, S.UNKNOWN])
def test_event_for_report_in_flight_found_untouched_seen_open(status: OrderStatus) -> None:
    order = make_order(status=status, exchange_order_id=None)
    event = event_for_report(order, make_report(X.UNTOUCHED))
    assert event is E.SEEN_OPEN
    assert transition(status, event) is S.OPEN


def test_event_for_report_open_untouched_unchanged_returns_none() -> None:
    assert event_for_report(make_order(status=S.OPEN), make_report(X.UNTOUCHED)) is None


def test_event_for_report_partial_same_fill_returns_none() -> None:
    order = make_order(status=S.PARTIALLY_FILLED, exchange_filled="0.00006")
    assert event_for_report(order, make_report(X.PARTIAL, left_quantity="0.00004")) is None


def test_event_for_report_partial_more_fill_returns_partially_filled() -> None:
    order = make_order(status=S.PARTIALLY_FILLED, exchange_filled="0.00006")
    assert event_for_report(order, make_report(X.PARTIAL, left_quantity="0.00001")) is E.PARTIALLY_FILLED


def test_event_for_report_open_learns_exchange_id_returns_seen_open() -> None:
    order = make_order(status=S.OPEN, exchange_order_id=None)
    assert event_for_report(order, make_report(X.UNTOUCHED, exchange_order_id=1001)) is E.SEEN_OPEN


def test_event_for_report_cancel_requested_still_resting_returns_none() -> None:
    assert event_for_report(make_order(status=S.CANCEL_REQUESTED), make_report(X.UNTOUCHED)) is None


def test_event_for_report_cancel_requested_fill_raced_cancel_reports_fill() -> None:
    order = make_order(status=S.CANCEL_REQUESTED)
    event = event_for_report(order, make_report(X.PARTIAL, left_quantity="0.00005"))
    assert event is E.PARTIALLY_FILLED
    assert transition(S.CANCEL_REQUESTED, event) is S.CANCEL_REQUESTED


@pytest.mark.parametrize("status", sorted(TERMINAL))
@pytest.mark.parametrize("report_status", list(ExchangeOrderStatus))
def test_event_for_report_terminal_local_order_ignored(status: OrderStatus, report_status: ExchangeOrderStatus) -> None:
    assert event_for_report(make_order(status=status), make_report(report_status)) is None


@given(st.sampled_from(NON_TERMINAL), st.sampled_from(list(ExchangeOrderStatus)),
       st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000),
       st.sampled_from([None, 1001, 2002]))
@settings(max_examples=300, deadline=None)
def test_event_for_report_any_pair_returns_none_or_allowed_event(
    status: OrderStatus, report_status: ExchangeOrderStatus, left: int, local_filled: int, local_id: int | None
) -> None:
    quantity = 10_000
    left = 0 if report_status is X.CLOSED else left
    order = make_order(status=status, quantity=quantity, exchange_filled=min(local_filled, quantity),
                       exchange_order_id=local_id)
    report = make_report(report_status, quantity=quantity, left_quantity=left)
    event = event_for_report(order, report)
    if event is None:
        # nothing would change: no allowed transition, or a self-loop with nothing new
        target = TRANSITIONS.get((status, _event_of(report_status, report.filled_quantity > 0)))
        assert target is None or (target is status and order.exchange_filled == report.filled_quantity
                                  and order.exchange_order_id == report.exchange_order_id)
    else:
        assert (status, event) in TRANSITIONS
    if report_status in (X.CLOSED, X.CANCELED):
        assert event is not None  # a terminal venue status always settles a non-terminal local order


def _event_of(report_status: ExchangeOrderStatus, has_fill: bool) -> OrderEvent:
    return {X.UNTOUCHED: E.PARTIALLY_FILLED if has_fill else E.SEEN_OPEN, X.PARTIAL: E.PARTIALLY_FILLED,
            X.CLOSED: E.FILLED, X.CANCELED: E.CANCELED}[report_status]


# -- search_exhausted ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.SUBMITTING, S.UNKNOWN])
def test_search_exhausted_both_budgets_spent_true(status: OrderStatus) -> None:
    order = make_order(status=status, probe_count=3, age_seconds=300)
    assert search_exhausted(order, T0, BUDGET) is True


def test_search_exhausted_probes_spent_but_too_young_false() -> None:
    order = make_order(status=S.UNKNOWN, probe_count=10, age_seconds=299)
    assert search_exhausted(order, T0, BUDGET) is False


def test_search_exhausted_old_but_probes_left_false() -> None:
    order = make_order(status=S.UNKNOWN, probe_count=2, age_seconds=10_000)
    assert search_exhausted(order, T0, BUDGET) is False


@pytest.mark.parametrize("status", sorted(LIVE | TERMINAL))
def test_search_exhausted_not_in_flight_false(status: OrderStatus) -> None:
    order = make_order(status=status, probe_count=99, created_at=T0 - timedelta(days=1))
    assert search_exhausted(order, T0, BUDGET) is False


@given(st.integers(min_value=0, max_value=10), st.integers(min_value=0, max_value=1000))
@settings(max_examples=100, deadline=None)
def test_search_exhausted_any_order_iff_both_budgets(probes: int, age: int) -> None:
    order = make_order(status=S.UNKNOWN, probe_count=probes, age_seconds=age)
    assert search_exhausted(order, T0, BUDGET) is (probes >= 3 and age >= 300)


# -- plan_fixes: external orders vs our unmatched in-flight orders (issue 8, finding 1) ---------------------------


def _facts(*open_orders: OrderReport, searched: bool = False) -> VenueFacts:
    return VenueFacts(tuple(open_orders), {}, {}, frozenset(), frozenset({"BTCTRY"} if searched else ()))


def _kinds(fixes: list[Fix]) -> list[tuple[str, str | None]]:
    return [(f.kind, f.client_order_id) for f in fixes]


def test_plan_fixes_unnamed_open_order_same_side_as_unmatched_in_flight_is_not_external() -> None:
    ours = make_order("bb-ours", status=S.UNKNOWN, exchange_order_id=None)
    venue = make_report(exchange_order_id=555, client_order_id=None)  # our order, listed without its client id
    fixes = plan_fixes([ours], _facts(venue), T0, BUDGET)
    assert _kinds(fixes) == [(FixKind.PROBE, "bb-ours"), (FixKind.MAYBE_OURS, None)]
    assert fixes[1].report == venue


def test_plan_fixes_unnamed_open_order_other_side_is_external() -> None:
    ours = make_order("bb-ours", status=S.SUBMITTING, exchange_order_id=None, side=Side.BUY)
    venue = make_report(exchange_order_id=555, client_order_id=None, side=Side.SELL)
    assert _kinds(plan_fixes([ours], _facts(venue), T0, BUDGET)) == [(FixKind.PROBE, "bb-ours"),
                                                                    (FixKind.EXTERNAL, None)]


def test_plan_fixes_in_flight_found_by_client_id_leaves_other_unnamed_order_external() -> None:
    ours = make_order("bb-ours", status=S.UNKNOWN, exchange_order_id=None)
    mine = make_report(exchange_order_id=1, client_order_id="bb-ours")
    other = make_report(exchange_order_id=2, client_order_id=None)
    assert _kinds(plan_fixes([ours], _facts(mine, other), T0, BUDGET)) == [(FixKind.SETTLE, "bb-ours"),
                                                                          (FixKind.EXTERNAL, None)]


def test_plan_fixes_in_flight_declared_not_placed_no_longer_holds_back_external() -> None:
    ours = make_order("bb-ours", status=S.UNKNOWN, exchange_order_id=None, probe_count=3, age_seconds=600)
    venue = make_report(exchange_order_id=555, client_order_id=None)
    assert _kinds(plan_fixes([ours], _facts(venue, searched=True), T0, BUDGET)) == [
        (FixKind.NOT_PLACED, "bb-ours"), (FixKind.EXTERNAL, None)]


def test_plan_fixes_our_order_found_skips_external_row_of_same_venue_order() -> None:
    ours = make_order("bb-ours", status=S.UNKNOWN, exchange_order_id=None)
    external = make_order("ext-555", status=S.OPEN, exchange_order_id=555, external=True)
    venue = make_report(X.PARTIAL, exchange_order_id=555, client_order_id="bb-ours", left_quantity="0.00005")
    fixes = plan_fixes([ours, external], _facts(venue), T0, BUDGET)
    assert _kinds(fixes) == [(FixKind.SETTLE, "bb-ours")]  # adopting it merges the external row (Store)
    assert fixes[0].report == venue
