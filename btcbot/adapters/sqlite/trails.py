"""Exit state: trailing-stop marks (issue 11), one row per armed trail keyed by (venue, symbol), and when a
position last took on new exposure (which ends an earlier exit's ladder).

Kept apart from store.py to keep modules small; `Store` mixes these methods in. A trail row and the events
that explain its change are written in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from btcbot.adapters.sqlite.mixin import StoreMixin
from btcbot.adapters.sqlite.mixin import iso as _iso
from btcbot.adapters.sqlite.mixin import parse_iso as _parse
from btcbot.domain.events import Event
from btcbot.domain.money import dec_str, to_decimal
from btcbot.domain.strategies.trailing import Trail

__all__ = ["TrailsMixin"]


class TrailsMixin(StoreMixin):
    def trails(self) -> dict[str, Trail]:
        """The armed trails of this venue, by symbol."""
        rows = self.db.query("SELECT * FROM trailing_marks WHERE venue = ? ORDER BY symbol", (self.venue,))
        return {r["symbol"]: _trail_from_row(r) for r in rows}

    def last_filled_buy_created_at(self, symbol: str, since: datetime) -> datetime | None:
        """Creation time of our latest buy order created since `since` that has filled (partly)."""
        row = self.db.query_one(  # the latest first (not MAX): an index on (venue, symbol, side, created_at) stops
            "SELECT created_at AS at FROM orders WHERE venue = ? AND symbol = ? AND side = 'buy' "  # at the first
            "AND external = 0 AND created_at >= ? AND (filled_quantity != '0' OR exchange_filled != '0') "
            "ORDER BY created_at DESC LIMIT 1",
            (self.venue, symbol, _iso(since)),
        )
        return _parse(row["at"]) if row and row["at"] else None

    def save_trail(self, symbol: str, trail: Trail | None, events: Sequence[Event], cycle_id: int | None,
                   now: datetime) -> None:
        """Write the symbol's trail (None deletes it) and its events in one transaction."""
        with self.db.atomic() as conn:
            if trail is None:
                conn.execute("DELETE FROM trailing_marks WHERE venue = ? AND symbol = ?", (self.venue, symbol))
            else:
                conn.execute(
                    "INSERT INTO trailing_marks (venue, symbol, opened_at, mark, stop_bps, logged_mark, armed_at, "
                    "triggered_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(venue, symbol) DO "
                    "UPDATE SET opened_at = excluded.opened_at, mark = excluded.mark, stop_bps = excluded.stop_bps, "
                    "logged_mark = excluded.logged_mark, armed_at = excluded.armed_at, "
                    "triggered_at = excluded.triggered_at, updated_at = excluded.updated_at",
                    (self.venue, symbol, _iso(trail.opened_at), dec_str(trail.mark), dec_str(trail.stop_bps),
                     dec_str(trail.logged_mark), _iso(trail.armed_at),
                     _iso(trail.triggered_at) if trail.triggered_at else None, _iso(now)),
                )
            for event in events:
                self._insert_event(conn, event, cycle_id, now)


def _trail_from_row(row: sqlite3.Row) -> Trail:
    return Trail(
        symbol=row["symbol"], opened_at=_parse(row["opened_at"]), mark=to_decimal(row["mark"]),
        stop_bps=to_decimal(row["stop_bps"]), armed_at=_parse(row["armed_at"]),
        logged_mark=to_decimal(row["logged_mark"]),
        triggered_at=_parse(row["triggered_at"]) if row["triggered_at"] else None,
    )
