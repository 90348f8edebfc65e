"""Stage-7 OMS vocabulary as a mapping onto the one order state machine (R-FSM, SPEC §13)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from btcbot.domain.oms import OMS_RANK, OMS_STATE, OmsState, oms_state
from btcbot.domain.order_fsm import TERMINAL, TRANSITIONS, OrderEvent, OrderStatus, transition

S, E, M = OrderStatus, OrderEvent, OmsState


def _walk(events: list[OrderEvent], fills: list[str]) -> list[OmsState]:
    """Drive the real FSM from SUBMITTING and name every status on the way (fills: base filled so far)."""
    status, names = S.SUBMITTING, [oms_state(S.SUBMITTING)]
    for event, filled in zip(events, fills, strict=True):
        status = transition(status, event)
        names.append(oms_state(status, Decimal(filled)))
    return names


def test_oms_state_every_fsm_status_has_one_stage7_name() -> None:
    assert set(OMS_STATE) == set(OrderStatus)
    assert set(OMS_STATE.values()) == set(OmsState) - {M.PLANNED}  # PLANNED exists only inside a cycle


def test_oms_state_happy_path_through_fsm_reads_in_stage7_names() -> None:
    names = _walk([E.ACKED, E.PARTIALLY_FILLED, E.FILLED], ["0", "0.4", "1"])
    assert names == [M.SUBMIT_REQUESTED, M.ACKED, M.PARTIAL_FILL, M.FILLED]


@pytest.mark.parametrize(("events", "fills", "last"), [
    ([E.REJECTED], ["0"], M.REJECTED),
    ([E.AMBIGUOUS, E.NOT_FOUND], ["0", "0"], M.REJECTED),  # proven never to have landed
    ([E.ACKED, E.CANCEL_REQUESTED, E.CANCELED], ["0", "0", "0"], M.CANCELED),
    ([E.AMBIGUOUS, E.SEEN_OPEN], ["0", "0"], M.ACKED),  # an ambiguous submit adopted by reconciliation
])
def test_oms_state_terminal_paths_end_in_stage7_terminal_names(events: list[OrderEvent], fills: list[str],
                                                                last: OmsState) -> None:
    assert _walk(events, fills)[-1] is last


def test_oms_state_ambiguous_submit_is_still_submit_requested() -> None:
    assert oms_state(S.UNKNOWN) is M.SUBMIT_REQUESTED


def test_oms_state_cancel_requested_with_fills_stays_partial_fill() -> None:
    assert oms_state(S.CANCEL_REQUESTED, Decimal("0.3")) is M.PARTIAL_FILL
    assert oms_state(S.CANCEL_REQUESTED) is M.ACKED


@given(st.sampled_from(sorted(TRANSITIONS, key=str)), st.decimals("0", "1", places=4), st.decimals("0", "1", places=4))
def test_oms_state_no_fsm_transition_moves_an_order_backwards(edge: tuple[OrderStatus, OrderEvent], a: Decimal,
                                                              b: Decimal) -> None:
    before, event = edge
    low, high = min(a, b), max(a, b)  # fills only grow
    after = transition(before, event)
    assume(before is not S.PARTIALLY_FILLED or low > 0)  # the venue reports Partial only with a fill
    assume(after is not S.PARTIALLY_FILLED or high > 0)
    assert OMS_RANK[oms_state(after, high)] >= OMS_RANK[oms_state(before, low)]


@given(st.sampled_from(sorted(TERMINAL)), st.decimals("0", "1", places=4))
def test_oms_state_terminal_statuses_have_terminal_names(status: OrderStatus, filled: Decimal) -> None:
    assert oms_state(status, filled) in {M.FILLED, M.REJECTED, M.CANCELED}
