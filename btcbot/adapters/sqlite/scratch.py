"""The journal of a backtest: a `Store` in memory, private to one run, made cheap to write and read.

It is the same Store (same tables, same methods, the same rows and events: tests/integration/
test_backtest_journal.py compares every row with a plain Store's), with differences that only a throwaway,
single-writer database allows:

- the database is a scratch database (`ScratchDatabase`, see `Database.make_scratch`): one transaction for
  its whole life, so the cycle's many small `atomic()` blocks cost no BEGIN/COMMIT, and no rollback journal;
  a failed block is not rolled back, so after any error the store must be discarded (a backtest aborts on any
  error). Its plain SELECTs are answered from memory while the tables they read are unchanged;
- key/value reads (trading state, marks, peak equity, balance baseline ...) are answered from memory: every
  write goes through this object, so memory and table cannot differ; the breaker it saves is written through
  the same way, and the exchange rules cache is kept parsed (its TTL is still applied);
- the cycle's parsed reads (orders, positions, trails, breaker, open chain steps) are remembered while their
  tables are unchanged (per-table versions kept by the database), and one read of the orders with a fill gap
  serves every narrower window;
- nothing else: the reads that used to walk the venue's whole history (a year-long backtest ran ~5x slower at
  its end than at its start) are served by the journal's own indexes (migration m006), live and in backtests.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from btcbot.adapters.sqlite.migrations import migrate
from btcbot.adapters.sqlite.scratch_db import ScratchDatabase
from btcbot.adapters.sqlite.store import Store
from btcbot.domain.accounting import Position
from btcbot.domain.breaker import Breaker, Step
from btcbot.domain.models import LocalOrder
from btcbot.domain.order_fsm import OrderStatus
from btcbot.domain.replace_fsm import ChainStep
from btcbot.domain.strategies.trailing import Trail
from btcbot.domain.symbols import SymbolRules

__all__ = ["ScratchStore"]

_T = TypeVar("_T")
_MEMOS = 64  # remembered reads (those keyed by a time change every cycle: forget them all now and then)


class ScratchStore(Store):
    """Create with `ScratchStore.create(venue)`; discard it after an error."""

    def __init__(self, db: ScratchDatabase, venue: str) -> None:
        super().__init__(db, venue)
        self._scratch_db = db
        self._memos: dict[tuple[object, ...], tuple[tuple[int, ...], Any]] = {}
        self._gap: tuple[tuple[int, ...], datetime, list[LocalOrder]] | None = None
        self._kv: dict[str, str | None] = {}
        self._rules: dict[str, SymbolRules] | None = None
        self._rules_at: list[datetime] = []

    @classmethod
    def create(cls, venue: str) -> ScratchStore:
        db = ScratchDatabase(unwatched=("kv",))  # get_kv below remembers its own
        migrate(db)
        db.make_scratch()
        return cls(db, venue)

    def _set_kv(self, conn: sqlite3.Connection, key: str, value: str, now: datetime) -> None:
        super()._set_kv(conn, key, value, now)
        self._kv[key] = value

    def get_kv(self, key: str) -> str | None:
        if key not in self._kv:
            self._kv[key] = super().get_kv(key)
        return self._kv[key]

    def _memo(self, key: tuple[object, ...], tables: tuple[str, ...], read: Callable[[], _T]) -> _T:
        """`read()` (a pure function of `tables` and `key`), or what it returned while `tables` did not change."""
        versions = self._scratch_db.versions(tables)
        hit = self._memos.get(key)
        if hit is not None and hit[0] == versions:
            return cast(_T, hit[1])
        if len(self._memos) >= _MEMOS:
            self._memos.clear()
        value = read()
        self._memos[key] = (versions, value)
        return value

    def orders(self, statuses: Iterable[OrderStatus] | None = None, symbol: str | None = None,
               include_external: bool = True, exit_kinds: Iterable[str] | None = None,
               created_since: datetime | None = None) -> list[LocalOrder]:
        wanted = None if statuses is None else frozenset(statuses)
        kinds = None if exit_kinds is None else frozenset(exit_kinds)
        return list(self._memo(("orders", wanted, symbol, include_external, kinds, created_since), ("orders",),
                               lambda: super(ScratchStore, self).orders(wanted, symbol, include_external, kinds,
                                                                        created_since)))

    def orders_with_fill_gap(self, updated_since: datetime) -> list[LocalOrder]:
        """The rows of a window are those of any wider window read while the orders did not change, updated
        since its start (`updated_at` compares as its ISO text does in SQL): one read serves the cycle's
        several windows, and the next cycles' while no order changes."""
        versions = self._scratch_db.versions(("orders",))
        wide = self._gap
        if wide is None or wide[0] != versions or updated_since < wide[1]:
            wide = self._gap = (versions, updated_since, super().orders_with_fill_gap(updated_since))
        return [o for o in wide[2] if o.updated_at >= updated_since]

    def positions(self) -> dict[str, Position]:
        return dict(self._memo(("positions",), ("positions",), super().positions))

    def trails(self) -> dict[str, Trail]:
        return dict(self._memo(("trails",), ("trailing_marks",), super().trails))

    def breaker(self) -> Breaker:
        return self._memo(("breaker",), ("breaker",), super().breaker)

    def save_breaker(self, step: Step, cycle_id: int | None, now: datetime) -> None:
        """Write through: what was saved is what `breaker()` reads back when its times are UTC (they are stored
        as UTC ISO text with microseconds and parsed back as UTC)."""
        super().save_breaker(step, cycle_id, now)
        after = step.after
        stamps = [at for at, _ in after.outcomes] + [t for t in (after.opened_at, after.next_probe_at) if t]
        if all(t.tzinfo is UTC for t in stamps) and all(type(failed) is bool for _, failed in after.outcomes):
            self._memos[("breaker",)] = (self._scratch_db.versions(("breaker",)), after)

    def open_chain_steps(self) -> list[ChainStep]:
        return list(self._memo(("open_chain_steps",), ("replace_chains", "orders"), super().open_chain_steps))

    def cached_rules(self, now: datetime, ttl: timedelta) -> dict[str, SymbolRules] | None:
        if self._rules is None or not self._rules_at or any(at + ttl < now for at in self._rules_at):
            return super().cached_rules(now, ttl)
        return dict(self._rules)

    def save_rules(self, rules: Iterable[SymbolRules], now: datetime) -> None:
        saved = list(rules)
        super().save_rules(saved, now)
        self._rules, self._rules_at = {r.symbol: r for r in saved}, [now] * len(saved)
