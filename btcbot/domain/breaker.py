"""The circuit breaker (R-REL-1), pure: a table-driven state machine over cycle outcomes, taking `now`.

    closed ──TRIP──▶ open ──COOLED──▶ half_open ──SUCCESS──▶ closed
      ▲ │                  ▲              │
      │ └ SUCCESS/FAILURE  └──FAILURE/TRIP┘
      └ (FAILURE below the threshold stays closed)

A *failure* is a cycle aborted because of the exchange (unreachable, 5xx, unusable replies, a 429 block on a
read the cycle needs); it becomes TRIP once the failures inside the window reach `failures` and are at least
half of the cycles in the window (a rate, so one bad minute among many good ones does not open it). An
authentication failure is TRIP at once: retrying with refused keys only risks a ban. Rejections of single
orders are data, not failures. While open nothing is sent to the exchange; after `cool_off` the next cycle
runs as the one probe (half-open): success closes the breaker, failure opens it again.

Each cron run is a new process, so the breaker is persisted (the `breaker` table) and every state change is a
BREAKER_CHANGED event.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from btcbot.domain.errors import InvalidTransition

__all__ = [
    "TRANSITIONS",
    "Breaker",
    "BreakerEvent",
    "BreakerParams",
    "BreakerState",
    "Outcome",
    "Step",
    "admit",
    "record",
]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerEvent(StrEnum):
    SUCCESS = "SUCCESS"  # a cycle completed
    FAILURE = "FAILURE"  # a cycle aborted by exchange trouble, below the threshold
    TRIP = "TRIP"  # the failure threshold was reached, or authentication failed
    COOLED = "COOLED"  # the cool-off has passed: let one probe cycle run


class Outcome(StrEnum):
    """What one cycle means to the breaker."""

    SUCCESS = "success"
    FAILURE = "failure"  # exchange trouble
    AUTH_FAILURE = "auth_failure"


S, E = BreakerState, BreakerEvent

TRANSITIONS: dict[tuple[BreakerState, BreakerEvent], BreakerState] = {
    (S.CLOSED, E.SUCCESS): S.CLOSED,
    (S.CLOSED, E.FAILURE): S.CLOSED,  # counted in the window
    (S.CLOSED, E.TRIP): S.OPEN,
    (S.OPEN, E.COOLED): S.HALF_OPEN,
    (S.HALF_OPEN, E.SUCCESS): S.CLOSED,  # the probe went through
    (S.HALF_OPEN, E.FAILURE): S.OPEN,  # the probe failed: another cool-off
    (S.HALF_OPEN, E.TRIP): S.OPEN,
    # a cycle that ran although the breaker was open: only a clock that went backwards (or a probe that
    # overlapped a manual change) gets here; its outcome still counts
    (S.OPEN, E.SUCCESS): S.OPEN,
    (S.OPEN, E.FAILURE): S.OPEN,
    (S.OPEN, E.TRIP): S.OPEN,
}


@dataclass(frozen=True, slots=True)
class BreakerParams:
    """`failures` failed cycles within `window` (and at least half of the cycles there) open the breaker
    for `cool_off`; `failures == 0` disables it."""

    failures: int = 5
    window: timedelta = timedelta(minutes=15)
    cool_off: timedelta = timedelta(minutes=5)

    @property
    def enabled(self) -> bool:
        return self.failures > 0


@dataclass(frozen=True, slots=True)
class Breaker:
    state: BreakerState = BreakerState.CLOSED
    outcomes: tuple[tuple[datetime, bool], ...] = ()  # (finished at, failed) of the cycles inside the window
    opened_at: datetime | None = None
    next_probe_at: datetime | None = None

    @property
    def failures(self) -> int:
        return sum(1 for _, failed in self.outcomes if failed)


@dataclass(frozen=True, slots=True)
class Step:
    """One application of the machine: `event` moved `before` to `after` (the event is None when nothing
    happened, e.g. an open breaker still cooling off)."""

    before: Breaker
    after: Breaker
    event: BreakerEvent | None = None
    detail: dict[str, str] = field(default_factory=dict)
    allows_cycle: bool = True

    @property
    def changed(self) -> bool:
        return self.before.state is not self.after.state


def _move(state: BreakerState, event: BreakerEvent) -> BreakerState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"breaker {state.value} -> {event.value}: not an allowed transition") from None


def admit(breaker: Breaker, now: datetime, params: BreakerParams) -> Step:
    """At the start of a cycle: an open breaker whose cool-off has passed becomes half-open (this cycle is
    the probe); one still cooling off refuses the cycle (`Step.allows_cycle` is False). A disabled
    breaker (`failures == 0`) allows every cycle and never changes."""
    if not params.enabled or breaker.state is not BreakerState.OPEN:
        return Step(breaker, breaker)
    if breaker.next_probe_at is None or now >= breaker.next_probe_at:
        after = replace(breaker, state=_move(breaker.state, E.COOLED))
        return Step(breaker, after, E.COOLED, {"opened_at": _iso(breaker.opened_at)})
    return Step(breaker, breaker, detail={"next_probe_at": _iso(breaker.next_probe_at)}, allows_cycle=False)


def record(breaker: Breaker, outcome: Outcome, now: datetime, params: BreakerParams) -> Step:
    """After a cycle: count its outcome in the window and move the machine."""
    if not params.enabled:
        return Step(breaker, breaker)
    failed = outcome is not Outcome.SUCCESS
    window = tuple(o for o in (*breaker.outcomes, (now, failed)) if o[0] > now - params.window)
    counted = replace(breaker, outcomes=window)
    event = _event(counted, outcome, params)
    state = _move(breaker.state, event)
    if state is BreakerState.OPEN and (breaker.state is not BreakerState.OPEN):
        after = replace(counted, state=state, opened_at=now, next_probe_at=now + params.cool_off)
    elif state is BreakerState.CLOSED and breaker.state is BreakerState.HALF_OPEN:
        after = Breaker()  # a fresh window after recovery
    else:
        after = replace(counted, state=state)
    detail = {"outcome": outcome.value, "failures": str(counted.failures), "cycles": str(len(window)),
              "next_probe_at": _iso(after.next_probe_at) if after.state is BreakerState.OPEN else ""}
    return Step(breaker, after, event, detail)


def _event(breaker: Breaker, outcome: Outcome, params: BreakerParams) -> BreakerEvent:
    if outcome is Outcome.SUCCESS:
        return E.SUCCESS
    if outcome is Outcome.AUTH_FAILURE:
        return E.TRIP
    if breaker.failures >= params.failures and 2 * breaker.failures >= len(breaker.outcomes):
        return E.TRIP
    return E.FAILURE


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""
