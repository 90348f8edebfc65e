"""The circuit breaker around every cycle (R-REL-1): the shell of `domain.breaker` (load, decide, persist).

`run_cycle` asks `admit_cycle` before it sends anything (an open breaker raises BreakerOpen: the cycle exits
3 and calls nothing) and hands its outcome to `note_cycle` at the end. What counts: a completed cycle is a
success; a cycle aborted by exchange trouble is a failure; an authentication failure opens it at once. Config
errors, bugs and refused cycles do not count (they are not the exchange's doing).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from btcbot.adapters.sqlite.store import Store
from btcbot.config import Settings
from btcbot.domain.breaker import Breaker, BreakerParams, Outcome, Step, admit, record
from btcbot.domain.errors import BreakerOpen

__all__ = ["admit_cycle", "breaker_json", "breaker_params", "note_cycle"]


def breaker_params(settings: Settings) -> BreakerParams:
    return BreakerParams(settings.breaker_failures, timedelta(seconds=settings.breaker_window_seconds),
                         timedelta(seconds=settings.breaker_cooloff_seconds))


def admit_cycle(store: Store, params: BreakerParams, now: datetime, cycle_id: int | None) -> Step:
    """Let the cycle run (a cooled-off open breaker turns half-open: this cycle is its probe) or raise
    BreakerOpen naming when the next probe may run."""
    step = admit(store.breaker(), now, params)
    if step.changed:
        store.save_breaker(step, cycle_id, now)
    if not step.allows_cycle:
        info = breaker_json(step.after)
        raise BreakerOpen(f"circuit breaker open since {info['opened_at']} ({info['failures']} failures); nothing "
                          f"sent to the exchange; next probe at {info['next_probe_at']}")
    return step


def note_cycle(store: Store, params: BreakerParams, outcome: Outcome | None, now: datetime,
               cycle_id: int | None) -> Step | None:
    """Count one finished cycle (None: it does not count) and persist the breaker when it changed."""
    if outcome is None:
        return None
    step = record(store.breaker(), outcome, now, params)
    if step.after != step.before:
        store.save_breaker(step, cycle_id, now)
    return step


def breaker_json(breaker: Breaker) -> dict[str, object]:
    """The `circuit_breaker` object of `status --json` (and of reconcile/doctor output)."""
    return {"state": breaker.state.value, "failures": breaker.failures,
            "opened_at": breaker.opened_at.isoformat() if breaker.opened_at else None,
            "next_probe_at": breaker.next_probe_at.isoformat() if breaker.next_probe_at else None}
