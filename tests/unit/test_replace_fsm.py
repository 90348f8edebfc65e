"""The replace machine (R-LIFE, R-EXEC-7): every transition of the table, every illegal one, terminal states."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from btcbot.domain.errors import InvalidTransition
from btcbot.domain.replace_fsm import (
    OPEN_STATES,
    REPLACE_TRANSITIONS,
    ReplaceEvent,
    ReplaceState,
    replace_transition,
)

R, E = ReplaceState, ReplaceEvent

EXPECTED = {
    (R.CANCEL_REQUESTED, E.CANCEL_RESENT): R.CANCEL_REQUESTED,
    (R.CANCEL_REQUESTED, E.OLD_PARTIALLY_FILLED): R.CANCEL_REQUESTED,
    (R.CANCEL_REQUESTED, E.OLD_TERMINAL): R.READY,
    (R.CANCEL_REQUESTED, E.OLD_TERMINAL_FILLS_PENDING): R.AWAITING_FILLS,
    (R.CANCEL_REQUESTED, E.CANCEL_REFUSED): R.ABANDONED,
    (R.AWAITING_FILLS, E.FILLS_RECORDED): R.READY,
    (R.AWAITING_FILLS, E.FILLS_WAIT_EXPIRED): R.READY,
    (R.READY, E.SUBMITTED): R.REPLACED,
    (R.READY, E.NOT_WANTED): R.ABANDONED,
}


@pytest.mark.parametrize(("state", "event"), sorted(EXPECTED))
def test_replace_transition_each_table_edge_reaches_expected_state(state: ReplaceState, event: ReplaceEvent) -> None:
    assert replace_transition(state, event) is EXPECTED[(state, event)]


def test_replace_transitions_table_is_exactly_the_documented_edges() -> None:
    assert REPLACE_TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("state", "event"), [
    pair for pair in itertools.product(ReplaceState, ReplaceEvent) if pair not in EXPECTED])
def test_replace_transition_illegal_pair_raises_naming_from_and_event(state: ReplaceState,
                                                                      event: ReplaceEvent) -> None:
    with pytest.raises(InvalidTransition, match=f"^{state.value} -> {event.value}: "):
        replace_transition(state, event)


@pytest.mark.parametrize("state", [R.REPLACED, R.ABANDONED])
def test_replace_transition_terminal_state_is_immutable(state: ReplaceState) -> None:
    for event in ReplaceEvent:
        with pytest.raises(InvalidTransition, match="is terminal"):
            replace_transition(state, event)


def test_replace_submitted_only_from_ready() -> None:
    assert [s for s in ReplaceState if (s, E.SUBMITTED) in REPLACE_TRANSITIONS] == [R.READY]


@given(st.lists(st.sampled_from(list(ReplaceEvent)), max_size=12))
def test_replace_any_event_sequence_replaced_only_through_ready(events: list[ReplaceEvent]) -> None:
    state, path = R.CANCEL_REQUESTED, [R.CANCEL_REQUESTED]
    for event in events:
        try:
            state = replace_transition(state, event)
        except InvalidTransition:
            continue
        path.append(state)
    if R.REPLACED in path:
        assert path[path.index(R.REPLACED) - 1] is R.READY
        assert R.AWAITING_FILLS not in path or path.index(R.AWAITING_FILLS) < path.index(R.READY)
    assert all(s in OPEN_STATES for s in path[:-1])  # nothing moves on from a terminal state
