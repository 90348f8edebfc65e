"""The circuit breaker state machine (R-REL-1; issue 8 item 13), pure and table-driven."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import T0
from hypothesis import given
from hypothesis import strategies as st

from btcbot.domain.breaker import (
    TRANSITIONS,
    Breaker,
    BreakerEvent,
    BreakerParams,
    BreakerState,
    Outcome,
    admit,
    record,
)
from btcbot.domain.errors import InvalidTransition

S, E, R = BreakerState, BreakerEvent, Outcome
P = BreakerParams(failures=3, window=timedelta(minutes=10), cool_off=timedelta(minutes=5))
MIN = timedelta(minutes=1)


def _run(outcomes: list[Outcome], start: Breaker = Breaker(), step: timedelta = MIN) -> Breaker:
    breaker = start
    for i, outcome in enumerate(outcomes):
        breaker = record(breaker, outcome, T0 + step * i, P).after
    return breaker


@pytest.mark.parametrize(("state", "event", "after"), [
    (S.CLOSED, E.SUCCESS, S.CLOSED), (S.CLOSED, E.FAILURE, S.CLOSED), (S.CLOSED, E.TRIP, S.OPEN),
    (S.OPEN, E.COOLED, S.HALF_OPEN), (S.HALF_OPEN, E.SUCCESS, S.CLOSED), (S.HALF_OPEN, E.FAILURE, S.OPEN),
    (S.HALF_OPEN, E.TRIP, S.OPEN),
])
def test_breaker_table_has_the_documented_edges(state: BreakerState, event: BreakerEvent,
                                                after: BreakerState) -> None:
    assert TRANSITIONS[(state, event)] is after


@pytest.mark.parametrize(("state", "event"), [(S.CLOSED, E.COOLED), (S.HALF_OPEN, E.COOLED)])
def test_breaker_table_cooling_only_from_open(state: BreakerState, event: BreakerEvent) -> None:
    assert (state, event) not in TRANSITIONS


def test_breaker_closed_failures_below_threshold_stay_closed() -> None:
    breaker = _run([R.FAILURE, R.FAILURE])
    assert (breaker.state, breaker.failures) == (S.CLOSED, 2)


def test_breaker_closed_threshold_reached_opens_with_probe_time() -> None:
    step = record(_run([R.FAILURE, R.FAILURE]), R.FAILURE, T0 + 2 * MIN, P)
    assert (step.event, step.after.state, step.changed) == (E.TRIP, S.OPEN, True)
    assert step.after.opened_at == T0 + 2 * MIN
    assert step.after.next_probe_at == T0 + 7 * MIN


def test_breaker_failure_rate_below_half_stays_closed() -> None:
    # 3 failures among 7 cycles in the window: too low a rate to stop trading
    breaker = _run([R.SUCCESS, R.FAILURE, R.SUCCESS, R.FAILURE, R.SUCCESS, R.SUCCESS, R.FAILURE])
    assert (breaker.state, breaker.failures) == (S.CLOSED, 3)


def test_breaker_old_failures_leave_the_window() -> None:
    breaker = _run([R.FAILURE, R.FAILURE], step=timedelta(minutes=6))  # the first one is 12 min old below
    step = record(breaker, R.FAILURE, T0 + timedelta(minutes=12), P)
    assert (step.after.state, step.after.failures) == (S.CLOSED, 2)


def test_breaker_auth_failure_opens_at_once() -> None:
    step = record(Breaker(), R.AUTH_FAILURE, T0, P)
    assert (step.event, step.after.state) == (E.TRIP, S.OPEN)


def test_breaker_open_refuses_cycles_until_cool_off() -> None:
    opened = record(Breaker(), R.AUTH_FAILURE, T0, P).after
    waiting = admit(opened, T0 + 4 * MIN, P)
    assert (waiting.allows_cycle, waiting.changed, waiting.event) == (False, False, None)
    probe = admit(opened, T0 + 5 * MIN, P)
    assert (probe.allows_cycle, probe.event, probe.after.state) == (True, E.COOLED, S.HALF_OPEN)


def test_breaker_half_open_probe_success_closes_with_fresh_window() -> None:
    half = admit(record(Breaker(), R.AUTH_FAILURE, T0, P).after, T0 + 5 * MIN, P).after
    step = record(half, R.SUCCESS, T0 + 6 * MIN, P)
    assert (step.event, step.after) == (E.SUCCESS, Breaker())


@pytest.mark.parametrize("outcome", [R.FAILURE, R.AUTH_FAILURE])
def test_breaker_half_open_probe_failure_opens_again(outcome: Outcome) -> None:
    half = admit(record(Breaker(), R.AUTH_FAILURE, T0, P).after, T0 + 5 * MIN, P).after
    step = record(half, outcome, T0 + 6 * MIN, P)
    assert step.after.state is S.OPEN
    assert step.after.next_probe_at == T0 + 11 * MIN


def test_breaker_disabled_never_opens_nor_refuses() -> None:
    off = BreakerParams(failures=0)
    assert record(Breaker(), R.AUTH_FAILURE, T0, off).after == Breaker()
    opened = record(Breaker(), R.AUTH_FAILURE, T0, P).after
    assert admit(opened, T0, off).allows_cycle


def test_breaker_invalid_edge_names_both_sides() -> None:
    from btcbot.domain.breaker import _move

    with pytest.raises(InvalidTransition, match="closed -> COOLED"):
        _move(S.CLOSED, E.COOLED)


@given(st.lists(st.sampled_from(list(Outcome)), max_size=40), st.integers(min_value=0, max_value=400))
def test_breaker_any_sequence_stays_in_the_table_and_open_iff_tripped(outcomes: list[Outcome], gap: int) -> None:
    breaker, now = Breaker(), T0
    for outcome in outcomes:
        now += timedelta(seconds=gap)
        gate = admit(breaker, now, P)
        if not gate.allows_cycle:
            assert breaker.state is S.OPEN and breaker.next_probe_at is not None and now < breaker.next_probe_at
            continue
        step = record(gate.after, outcome, now, P)
        assert step.event is not None and (gate.after.state, step.event) in TRANSITIONS
        if step.after.state is S.OPEN:
            assert step.event is E.TRIP or gate.after.state is S.HALF_OPEN
            assert step.after.next_probe_at == now + P.cool_off
        assert all(at > now - P.window for at, _ in step.after.outcomes)
        breaker = step.after
