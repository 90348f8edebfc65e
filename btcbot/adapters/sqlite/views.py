"""Read-only queries for the operator's views (status, metrics file, notifications). Every one is cheap with a
year of history: row-id ranges, `LIMIT` from the newest row, or index seeks bounded by live orders; none scans
a growing table (R-PERF)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from btcbot.adapters.sqlite.store import Store

__all__ = ["counted_fills", "cycle_before", "cycle_by_id", "events_after", "last_event_id", "order_counts",
           "recent_cycles"]

_FILLS_COUNTED = "metrics_fills_counted"  # kv: {"<venue>": [last fill row id, fills of the venue up to it]}


def last_event_id(store: Store) -> int:
    """The newest event row id (0 for none): events written after it belong to the run that asked."""
    row = store.db.query_one("SELECT MAX(id) AS n FROM events")
    return int(row["n"]) if row is not None and row["n"] is not None else 0


def events_after(store: Store, after_id: int, kinds: Iterable[str]) -> list[sqlite3.Row]:
    """Events of `kinds` written after row `after_id`, oldest first (a row-id range)."""
    wanted = sorted(kinds)
    return store.db.query(f"SELECT * FROM events WHERE id > ? AND kind IN ({','.join('?' * len(wanted))}) "
                          "ORDER BY id", (after_id, *wanted))


def recent_cycles(store: Store, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` cycles of the store's venue, newest first, with their summary parsed."""
    rows = store.db.query("SELECT * FROM cycles WHERE venue = ? ORDER BY id DESC LIMIT ?", (store.venue, limit))
    return [_cycle(r) for r in rows]


def cycle_by_id(store: Store, cycle_id: int) -> dict[str, Any] | None:
    """One cycle row (any venue), its summary parsed."""
    row = store.db.query_one("SELECT * FROM cycles WHERE id = ?", (cycle_id,))
    return _cycle(row) if row is not None else None


def cycle_before(store: Store, cycle_id: int) -> dict[str, Any] | None:
    """The venue's last trading cycle (not a `reconcile` record) before `cycle_id`."""
    row = store.db.query_one("SELECT * FROM cycles WHERE venue = ? AND id < ? AND stage != 'reconcile' "
                             "ORDER BY id DESC LIMIT 1", (store.venue, cycle_id))
    return _cycle(row) if row is not None else None


def order_counts(store: Store, statuses: Iterable[str]) -> dict[str, int]:
    """Orders of the venue in each of `statuses` (index seeks on (venue, status): pass non-terminal or rare
    statuses, never FILLED/CANCELED, whose counts grow with history)."""
    wanted = sorted(statuses)
    rows = store.db.query(f"SELECT status, COUNT(*) AS n FROM orders WHERE venue = ? AND status IN "
                          f"({','.join('?' * len(wanted))}) GROUP BY status", (store.venue, *wanted))
    counts = dict.fromkeys(wanted, 0)
    counts.update({r["status"]: int(r["n"]) for r in rows})
    return counts


def counted_fills(store: Store, now: datetime | None) -> int:
    """Fills recorded for the venue, counted incrementally: the count up to a row id is kept in kv, so each call
    only counts the rows added since (the first call counts them all once). Fills are never deleted. `now=None`
(read-only journals) keeps nothing."""
    text = store.get_kv(_FILLS_COUNTED)
    saved: dict[str, list[int]] = json.loads(text) if text else {}
    last_id, count = saved.get(store.venue, [0, 0])
    row = store.db.query_one("SELECT COUNT(*) AS n, MAX(id) AS last FROM fills WHERE venue = ? AND id > ?",
                             (store.venue, last_id))
    if row is None or not row["n"]:
        return count
    count += int(row["n"])
    if now is not None:
        saved[store.venue] = [int(row["last"]), count]
        store.set_kv(_FILLS_COUNTED, json.dumps(saved, sort_keys=True), now)
    return count


def _cycle(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    try:
        data["summary"] = json.loads(row["summary"]) if row["summary"] else {}
    except ValueError:
        data["summary"] = {}
    return data
