"""Bounded reads for a journal with years of history (R-PERF, R-STATE-5): each one reads what can still
matter (by index), never a whole table. `Store` mixes these methods in.

- `counts`: rows per table from `row_counts`, kept exact by triggers (migration m006), so `status` does not
  count a million events;
- `orders_to_reconcile`: the orders a reconcile can find a difference on: every non-terminal order, and the
  terminal ones (updated since a horizon) that the venue's reports mention by exchange or client id; a terminal
  order the venue does not mention cannot differ from it;
- `known_trade_ids`: which of the venue's fills are recorded, by the unique (venue, trade_id) index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any

from btcbot.adapters.sqlite.mixin import StoreMixin
from btcbot.adapters.sqlite.mixin import iso as _iso
from btcbot.domain.models import LocalOrder
from btcbot.domain.order_fsm import TERMINAL, OrderStatus

__all__ = ["COUNTED", "LookupsMixin"]

COUNTED = ("orders", "fills", "events", "cycles")  # the `counts` of `status --json` (SPEC §0.4)
_CHUNK = 500  # bound parameters per IN (...) list
_TERMINAL = tuple(sorted(s.value for s in TERMINAL))
_OPEN = tuple(sorted(s.value for s in OrderStatus if s not in TERMINAL))  # IN lists use the status indexes


class LookupsMixin(StoreMixin):
    def counts(self) -> dict[str, int]:
        """Rows in each counted table now (exact: maintained by triggers on insert and delete)."""
        rows = {r["name"]: int(r["n"]) for r in self.db.query("SELECT name, n FROM row_counts")}
        return {name: rows.get(name, 0) for name in COUNTED}

    def last_cycle(self) -> dict[str, Any] | None:
        """The newest cycle row (any stage and venue), or None."""
        row = self.db.query_one("SELECT * FROM cycles ORDER BY id DESC LIMIT 1")
        return dict(row) if row is not None else None

    def known_trade_ids(self, trade_ids: Iterable[str]) -> set[str]:
        """The trade ids among `trade_ids` that this venue's fills table holds."""
        known: set[str] = set()
        for chunk in _chunks(sorted(set(trade_ids))):
            rows = self.db.query(f"SELECT trade_id FROM fills WHERE venue = ? AND trade_id IN ({_marks(chunk)})",
                                 (self.venue, *chunk))
            known.update(r["trade_id"] for r in rows)
        return known

    def order_symbols_since(self, updated_since: datetime) -> set[str]:
        """Symbols of this venue's orders that are not terminal or changed after `updated_since`."""
        rows = self.db.query(
            f"SELECT symbol FROM orders WHERE venue = ? AND status IN ({_marks(_OPEN)}) UNION "
            f"SELECT symbol FROM orders WHERE venue = ? AND status IN ({_marks(_TERMINAL)}) AND updated_at > ?",
            (self.venue, *_OPEN, self.venue, *_TERMINAL, _iso(updated_since)))
        return {r["symbol"] for r in rows}

    def orders_to_reconcile(self, updated_since: datetime, exchange_ids: Collection[int],
                            client_ids: Collection[str]) -> list[LocalOrder]:
        """Oldest first: this venue's non-terminal orders, and its terminal orders updated after `updated_since`
        that carry one of `exchange_ids` or `client_ids`."""
        from btcbot.adapters.sqlite.store import _order_from_row

        found: dict[int, sqlite3.Row] = {}
        since = _iso(updated_since)
        rows = self.db.query(f"SELECT * FROM orders WHERE venue = ? AND status IN ({_marks(_OPEN)})",
                             (self.venue, *_OPEN))
        found.update((r["id"], r) for r in rows)
        for where, values in (("venue = ? AND exchange_order_id", sorted({str(e) for e in exchange_ids})),
                              ("+venue = ? AND client_order_id", sorted(set(client_ids)))):  # unique indexes
            for chunk in _chunks(values):
                rows = self.db.query(f"SELECT * FROM orders WHERE {where} IN ({_marks(chunk)})", (self.venue, *chunk))
                found.update((r["id"], r) for r in rows if r["status"] not in _TERMINAL or r["updated_at"] > since)
        return [_order_from_row(found[key]) for key in sorted(found)]


def _marks(values: Collection[object]) -> str:
    return ",".join("?" * len(values))


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]
