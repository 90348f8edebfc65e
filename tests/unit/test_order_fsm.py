"""The one order state machine (R-FSM; LESSONS 6, 17, 26): a table, immutable terminals, real-world edges."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from btcbot.domain.errors import BtcbotError, InvalidTransition
from btcbot.domain.order_fsm import (
    IN_FLIGHT,
    LIVE,
    TERMINAL,
    TRANSITIONS,
    OrderEvent,
    OrderStatus,
    transition,
)

S, E = OrderStatus, OrderEvent
FAST = settings(max_examples=300, deadline=None)

events = st.sampled_from(list(OrderEvent))
statuses = st.sampled_from(list(OrderStatus))


def _reachable(start: OrderStatus) -> set[OrderStatus]:
    seen, queue = {start}, deque([start])
    while queue:
        status = queue.popleft()
        if status in TERMINAL:
            continue
        for event in OrderEvent:
            try:
                nxt = transition(status, event)
            except InvalidTransition:
                continue
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


# -- shape of the table ------------------------------------------------------------------------------------


def test_status_sets_partition_every_status() -> None:
    assert set(OrderStatus) == TERMINAL | IN_FLIGHT | LIVE
    assert not (TERMINAL & IN_FLIGHT) and not (TERMINAL & LIVE) and not (IN_FLIGHT & LIVE)


def test_terminal_set_is_filled_canceled_rejected_not_placed() -> None:
    assert frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.NOT_PLACED}) == TERMINAL


def test_transitions_table_no_edge_leaves_terminal_state() -> None:
    assert not [key for key in TRANSITIONS if key[0] in TERMINAL]


def test_transitions_table_no_edge_enters_submitting() -> None:
    # SUBMITTING is only the write-ahead row's initial status
    assert S.SUBMITTING not in TRANSITIONS.values()


def test_transitions_every_status_reachable_from_submitting() -> None:
    assert _reachable(S.SUBMITTING) == set(OrderStatus)


def test_transitions_every_non_initial_status_is_a_table_target() -> None:
    assert set(TRANSITIONS.values()) == set(OrderStatus) - {S.SUBMITTING}


@pytest.mark.parametrize(("key", "target"), sorted(TRANSITIONS.items()))
def test_transition_table_entry_returned(key: tuple[OrderStatus, OrderEvent], target: OrderStatus) -> None:
    assert transition(*key) is target


# -- terminal immutability -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(TERMINAL))
@pytest.mark.parametrize("event", list(OrderEvent))
def test_transition_from_terminal_raises_naming_from_and_event(status: OrderStatus, event: OrderEvent) -> None:
    with pytest.raises(InvalidTransition, match=f"^{status.value} -> {event.value}") as info:
        transition(status, event)
    assert "terminal" in str(info.value)


def test_invalid_transition_is_btcbot_error() -> None:
    assert issubclass(InvalidTransition, BtcbotError)


@pytest.mark.parametrize(
    ("status", "event"),
    [(S.OPEN, E.REJECTED), (S.OPEN, E.NOT_FOUND), (S.OPEN, E.AMBIGUOUS), (S.UNKNOWN, E.REJECTED),
     (S.UNKNOWN, E.CANCEL_REQUESTED), (S.SUBMITTING, E.CANCEL_REQUESTED), (S.CANCEL_REQUESTED, E.ACKED),
     (S.PARTIALLY_FILLED, E.NOT_FOUND), (S.SUBMITTING, E.CANCEL_FAILED)],
)
def test_transition_not_in_table_raises_naming_from_and_event(status: OrderStatus, event: OrderEvent) -> None:
    assert (status, event) not in TRANSITIONS
    with pytest.raises(InvalidTransition, match=f"^{status.value} -> {event.value}: not an allowed"):
        transition(status, event)


# -- real-world edges ------------------------------------------------------------------------------------------


def test_transition_cancel_requested_then_filled_is_filled() -> None:
    # BTCTurk cancels are asynchronous: the order may fill before the cancel lands
    assert transition(S.CANCEL_REQUESTED, E.FILLED) is S.FILLED


def test_transition_cancel_requested_partial_fill_stays_cancel_requested() -> None:
    assert transition(S.CANCEL_REQUESTED, E.PARTIALLY_FILLED) is S.CANCEL_REQUESTED


def test_transition_cancel_requested_still_seen_open_stays_pending() -> None:
    assert transition(S.CANCEL_REQUESTED, E.SEEN_OPEN) is S.CANCEL_REQUESTED


def test_transition_cancel_requested_then_canceled_is_canceled() -> None:
    assert transition(S.CANCEL_REQUESTED, E.CANCELED) is S.CANCELED


def test_transition_cancel_refused_returns_to_open() -> None:
    assert transition(S.CANCEL_REQUESTED, E.CANCEL_FAILED) is S.OPEN


def test_transition_fill_racing_cancel_path_ends_filled() -> None:
    status = S.SUBMITTING
    for event in (E.ACKED, E.PARTIALLY_FILLED, E.CANCEL_REQUESTED, E.PARTIALLY_FILLED, E.FILLED):
        status = transition(status, event)
    assert status is S.FILLED


def test_transition_submitting_crash_then_found_in_any_state_allowed() -> None:
    for event, target in [(E.SEEN_OPEN, S.OPEN), (E.PARTIALLY_FILLED, S.PARTIALLY_FILLED), (E.FILLED, S.FILLED),
                          (E.CANCELED, S.CANCELED), (E.NOT_FOUND, S.NOT_PLACED)]:
        assert transition(S.SUBMITTING, event) is target


def test_transition_ambiguous_submit_is_unknown_never_rejected() -> None:
    assert transition(S.SUBMITTING, E.AMBIGUOUS) is S.UNKNOWN
    assert transition(S.UNKNOWN, E.AMBIGUOUS) is S.UNKNOWN


def test_transition_unknown_reaches_open_filled_canceled_not_placed() -> None:
    assert {transition(S.UNKNOWN, e) for e in (E.ACKED, E.SEEN_OPEN, E.FILLED, E.CANCELED, E.NOT_FOUND)} == {
        S.OPEN, S.FILLED, S.CANCELED, S.NOT_PLACED,
    }


def test_transition_unknown_can_never_reach_rejected() -> None:
    reachable = _reachable(S.UNKNOWN)
    assert {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.NOT_PLACED} <= reachable
    assert S.REJECTED not in reachable


def test_transition_live_orders_cannot_become_not_placed_or_rejected() -> None:
    for start in LIVE:
        assert not ({S.NOT_PLACED, S.REJECTED} & _reachable(start))


# -- properties ----------------------------------------------------------------------------------------------


@given(statuses, st.lists(events, max_size=40))
@FAST
def test_transition_random_events_follow_table_and_never_leave_terminal(
    start: OrderStatus, sequence: list[OrderEvent]
) -> None:
    status = start
    reached_terminal: OrderStatus | None = status if status in TERMINAL else None
    for event in sequence:
        before = status
        try:
            status = transition(status, event)
        except InvalidTransition as exc:
            assert str(exc).startswith(f"{before.value} -> {event.value}")
            assert before in TERMINAL or (before, event) not in TRANSITIONS
            continue
        assert before not in TERMINAL
        assert TRANSITIONS[(before, event)] is status
        if status in TERMINAL:
            reached_terminal = reached_terminal or status
    if reached_terminal is not None:
        assert status is reached_terminal


@given(statuses, events)
@FAST
def test_transition_any_pair_succeeds_iff_in_table(status: OrderStatus, event: OrderEvent) -> None:
    allowed = (status, event) in TRANSITIONS
    if allowed:
        assert transition(status, event) is TRANSITIONS[(status, event)]
    else:
        with pytest.raises(InvalidTransition, match=f"^{status.value} -> {event.value}"):
            transition(status, event)


@given(st.lists(events, max_size=40))
@FAST
def test_transition_from_unknown_random_walk_never_rejected(sequence: list[OrderEvent]) -> None:
    status = S.UNKNOWN
    for event in sequence:
        try:
            status = transition(status, event)
        except InvalidTransition:
            continue
        assert status is not S.REJECTED
