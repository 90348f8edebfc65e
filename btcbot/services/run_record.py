"""Every run that gets past the lock leaves a cycle row (issue 8, finding 9): a failure while the composition
root builds the exchange (e.g. an outage while the paper venue loads the rules) is recorded with its outcome
and exit code, like a failure inside `run_cycle`."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime

from btcbot.adapters.sqlite.health import state_error
from btcbot.adapters.sqlite.store import Store
from btcbot.domain.errors import ConfigError, ExchangeError, StateError, describe

__all__ = ["outcome_of", "record_failed_start"]


def outcome_of(error: BaseException) -> tuple[str, int]:
    """(outcome, exit code) of a run that ended with `error` (the CLI maps the same classes to codes)."""
    if isinstance(error, ConfigError | StateError):
        return "config_error", 2
    if isinstance(error, sqlite3.Error) and state_error("", error) is not None:
        return "config_error", 2
    if isinstance(error, ExchangeError):
        return "aborted", 3
    return "failed", 1


def record_failed_start(store: Store, stage: str, mode_label: str, error: BaseException, now: datetime) -> None:
    """Record a cycle that failed before it began; never masks `error` (a broken journal stays unrecorded)."""
    outcome, code = outcome_of(error)
    with contextlib.suppress(Exception):
        cycle_id = store.start_cycle(stage, mode_label, now)
        store.finish_cycle(cycle_id, outcome, code, {"error": describe(error), "phase": "bootstrap"}, now)
