"""Fills ledger persistence (R-ACC-1): fills unique by (venue, trade id), applied once, positions derived.

Kept apart from store.py to keep modules small; `Store` mixes these methods in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from btcbot.adapters.sqlite.mixin import StoreMixin
from btcbot.adapters.sqlite.mixin import iso as _iso
from btcbot.adapters.sqlite.mixin import parse_iso as _parse
from btcbot.domain.accounting import AppliedFill, Ledger, Position, fill_sort_key, ingest, replay_ledger
from btcbot.domain.errors import StateError
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import FillReport, Side
from btcbot.domain.money import ZERO, dec_str, to_decimal

__all__ = ["FillsMixin"]


class FillsMixin(StoreMixin):
    def record_fills(self, fills: Sequence[FillReport], now: datetime, cycle_id: int | None) -> list[FillReport]:
        """Insert unseen fills, link them to our orders, update order fill totals and positions, with
        one FILL_RECORDED event per new fill, all in one transaction. Returns the new fills."""
        new: list[FillReport] = []
        ours: dict[str, list[FillReport]] = {}
        with self.db.atomic() as conn:
            for fill in fills:
                order = conn.execute(
                    "SELECT id, external FROM orders WHERE venue = ? AND (exchange_order_id = ? "
                    "OR (exchange_order_id IS NULL AND client_order_id = ?))",
                    (self.venue, str(fill.exchange_order_id), fill.client_order_id or ""),
                ).fetchone()
                cur = conn.execute(
                    "INSERT OR IGNORE INTO fills (venue, trade_id, order_id, exchange_order_id, client_order_id, "
                    "symbol, side, price, quantity, fee, tax, fee_asset, ts, cycle_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.venue, fill.trade_id, order["id"] if order else None, str(fill.exchange_order_id),
                     fill.client_order_id, fill.symbol, fill.side.value, dec_str(fill.price),
                     dec_str(fill.quantity), dec_str(fill.fee), dec_str(fill.tax), fill.fee_asset,
                     _iso(fill.timestamp), cycle_id),
                )
                if cur.rowcount != 1:
                    continue
                new.append(fill)
                if order and not order["external"]:
                    ours.setdefault(fill.symbol, []).append(fill)
                detail = {"trade_id": fill.trade_id, "side": fill.side.value, "price": dec_str(fill.price),
                          "quantity": dec_str(fill.quantity), "fee": dec_str(fill.fee), "tax": dec_str(fill.tax),
                          "ours": str(bool(order) and not order["external"])}
                self._insert_event(conn, Event(EventKind.FILL_RECORDED, "FILL_NEW", fill.symbol,
                                               fill.client_order_id, detail), cycle_id, now)
            relinked = self._link_orphans(conn)
            affected = {f.symbol for f in new} | relinked
            self._refresh_order_totals(conn, {f.exchange_order_id for f in new})
            for symbol in sorted(affected):
                if symbol in relinked or not self._extend_position(conn, symbol, ours.get(symbol, []), now):
                    self._rebuild_position(conn, symbol, now)
        return new

    def _absorb_external(self, conn: sqlite3.Connection, client_order_id: str, exchange_order_id: int,
                         now: datetime, cycle_id: int | None) -> bool:
        """Before our order takes `exchange_order_id`: a row that already holds that venue id can only be an
        external row recorded while the venue hid our client id. Its fills move to our order and the row is
        deleted, in the caller's transaction (which then refreshes totals and the position). True if merged."""
        other = conn.execute(
            "SELECT id, client_order_id, external FROM orders WHERE venue = ? AND exchange_order_id = ? "
            "AND client_order_id != ?", (self.venue, str(exchange_order_id), client_order_id)).fetchone()
        if other is None:
            return False
        if not other["external"]:
            raise StateError(f"venue order {exchange_order_id} is journalled as both {other['client_order_id']} "
                             f"and {client_order_id}; inspect the journal before running again")
        ours = conn.execute("SELECT id, symbol FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()
        moved = conn.execute("UPDATE fills SET order_id = ? WHERE order_id = ?", (ours["id"], other["id"])).rowcount
        conn.execute("DELETE FROM orders WHERE id = ?", (other["id"],))
        event = Event(EventKind.RECONCILE_APPLIED, "EXTERNAL_ROW_MERGED", ours["symbol"], client_order_id,
                      {"external_client_order_id": other["client_order_id"],
                       "exchange_order_id": str(exchange_order_id), "fills_moved": str(moved)})
        self._insert_event(conn, event, cycle_id, now)
        return True

    def _link_orphans(self, conn: sqlite3.Connection) -> set[str]:
        """Link fills recorded before their order was known; the totals of those orders follow."""
        rows = conn.execute(
            "SELECT f.id, f.symbol, o.id AS oid, o.exchange_order_id AS exid FROM fills f JOIN orders o "
            "ON o.venue = f.venue AND o.exchange_order_id = f.exchange_order_id WHERE f.venue = ? "
            "AND f.order_id IS NULL",
            (self.venue,),
        ).fetchall()
        for row in rows:
            conn.execute("UPDATE fills SET order_id = ? WHERE id = ?", (row["oid"], row["id"]))
        self._refresh_order_totals(conn, {int(row["exid"]) for row in rows})
        return {row["symbol"] for row in rows}

    def _refresh_order_totals(self, conn: sqlite3.Connection, exchange_ids: set[int]) -> None:
        """Set `filled_quantity` of the orders with these venue ids to the sum of their recorded fills."""
        if not exchange_ids:
            return
        sql = (f"SELECT o.id, f.quantity FROM orders o JOIN fills f ON f.order_id = o.id WHERE o.venue = ? "
               f"AND o.exchange_order_id IN ({','.join('?' * len(exchange_ids))})")
        params: list[object] = [self.venue, *(str(e) for e in sorted(exchange_ids))]
        totals: dict[int, Decimal] = {}
        for row in conn.execute(sql, params).fetchall():
            totals[row["id"]] = totals.get(row["id"], ZERO) + to_decimal(row["quantity"])
        for oid, total in totals.items():
            conn.execute("UPDATE orders SET filled_quantity = ? WHERE id = ?", (dec_str(total), oid))

    def _bot_fills(self, conn: sqlite3.Connection, symbol: str) -> list[tuple[int, FillReport]]:
        rows = conn.execute(
            "SELECT f.* FROM fills f JOIN orders o ON o.id = f.order_id "
            "WHERE f.venue = ? AND f.symbol = ? AND o.external = 0",
            (self.venue, symbol),
        ).fetchall()
        return [(row["id"], _fill_from_row(row)) for row in rows]

    def _extend_position(self, conn: sqlite3.Connection, symbol: str, new: list[FillReport], now: datetime) -> bool:
        """Apply the bot's new fills of `symbol` to its stored position, when they all sort after every fill
        applied before (then the result equals a replay, accounting.ingest); False: a full rebuild is needed."""
        row = conn.execute("SELECT * FROM positions WHERE venue = ? AND symbol = ?", (self.venue, symbol)).fetchone()
        position = _position_from_row(row) if row else Position(symbol=symbol)
        last_key = None
        if position.last_fill_at is not None:
            fresh = {f.trade_id for f in new}
            earlier = conn.execute(
                "SELECT f.* FROM fills f JOIN orders o ON o.id = f.order_id WHERE f.venue = ? AND f.symbol = ? "
                "AND f.ts >= ? AND o.external = 0", (self.venue, symbol, _iso(position.last_fill_at))).fetchall()
            keys = [fill_sort_key(fill) for fill in map(_fill_from_row, earlier) if fill.trade_id not in fresh]
            if not keys:  # the stored position does not match the fills: recompute
                return False
            last_key = max(keys)
        prior = Ledger({symbol: position}, {}, {symbol: last_key} if last_key else {})
        result = ingest(prior, new)
        if result.needs_replay:
            return False
        ids: dict[str, int | None] = {fill.trade_id: None for fill in new}
        self._store_position(conn, symbol, result.ledger.position(symbol), result.applied, ids, now)
        return True

    def _rebuild_position(self, conn: sqlite3.Connection, symbol: str, now: datetime) -> None:
        """Recompute the symbol's position from all of the bot's fills (always equals a replay)."""
        rows = self._bot_fills(conn, symbol)
        ids: dict[str, int | None] = {fill.trade_id: row_id for row_id, fill in rows}
        ledger, applied = replay_ledger(fill for _, fill in rows)
        self._store_position(conn, symbol, ledger.position(symbol), applied, ids, now)

    def _store_position(self, conn: sqlite3.Connection, symbol: str, position: Position, applied: list[AppliedFill],
                        ids: dict[str, int | None], now: datetime) -> None:
        """Write each applied fill's realized PnL (by row id, or by trade id when None) and the position."""
        for item in applied:
            row_id, pnl = ids[item.fill.trade_id], dec_str(item.effect.realized_pnl)
            if row_id is None:
                conn.execute("UPDATE fills SET realized_pnl = ? WHERE venue = ? AND trade_id = ?",
                             (pnl, self.venue, item.fill.trade_id))
            else:
                conn.execute("UPDATE fills SET realized_pnl = ? WHERE id = ?", (pnl, row_id))
            if item.effect.oversold:
                event = Event(EventKind.POSITION_OVERSOLD, "POSITION_OVERSOLD", symbol, item.fill.client_order_id,
                              {"trade_id": item.fill.trade_id,
                               "oversold_quantity": dec_str(item.effect.oversold_quantity)})
                self._insert_event(conn, event, None, now, key=f"oversold|{self.venue}|{item.fill.trade_id}")
        conn.execute(
            "INSERT INTO positions (venue, symbol, quantity, cost_basis, realized_pnl, fees_paid, last_fill_at, "
            "opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(venue, symbol) DO UPDATE SET "
            "quantity = excluded.quantity, cost_basis = excluded.cost_basis, realized_pnl = excluded.realized_pnl, "
            "fees_paid = excluded.fees_paid, last_fill_at = excluded.last_fill_at, opened_at = excluded.opened_at, "
            "updated_at = excluded.updated_at",
            (self.venue, symbol, dec_str(position.quantity), dec_str(position.cost_basis),
             dec_str(position.realized_pnl), dec_str(position.fees_paid),
             _iso(position.last_fill_at) if position.last_fill_at else None,
             _iso(position.opened_at) if position.opened_at else None, _iso(now)),
        )

    def positions(self) -> dict[str, Position]:
        rows = self.db.query("SELECT * FROM positions WHERE venue = ? ORDER BY symbol", (self.venue,))
        return {r["symbol"]: _position_from_row(r) for r in rows}

    def fills(self, limit: int | None = None, bot_only: bool = False) -> list[FillReport]:
        """Recorded fills, newest first."""
        sql = "SELECT f.* FROM fills f LEFT JOIN orders o ON o.id = f.order_id WHERE f.venue = ?"
        if bot_only:
            sql += " AND o.id IS NOT NULL AND o.external = 0"
        sql += " ORDER BY f.ts DESC, f.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_fill_from_row(r) for r in self.db.query(sql, (self.venue,))]

    def fills_after(self, row_id: int) -> tuple[list[FillReport], int]:
        """Every fill recorded after row `row_id` (ours and external) in recording order, and the last row id."""
        rows = self.db.query("SELECT * FROM fills WHERE venue = ? AND id > ? ORDER BY id", (self.venue, row_id))
        return [_fill_from_row(r) for r in rows], (int(rows[-1]["id"]) if rows else row_id)

    def last_fill_row(self) -> int:
        row = self.db.query_one("SELECT MAX(id) AS m FROM fills WHERE venue = ?", (self.venue,))
        return int(row["m"]) if row and row["m"] is not None else 0

    def last_fill_at(self) -> datetime | None:
        row = self.db.query_one("SELECT MAX(ts) AS ts FROM fills WHERE venue = ?", (self.venue,))
        return _parse(row["ts"]) if row and row["ts"] else None

    def realized_between(self, start: datetime, end: datetime) -> dict[str, Decimal]:
        """Realized PnL of the bot's fills in [start, end) per symbol, in each symbol's quote."""
        rows = self.db.query(
            "SELECT f.symbol, f.realized_pnl FROM fills f JOIN orders o ON o.id = f.order_id WHERE f.venue = ? "
            "AND o.external = 0 AND f.ts >= ? AND f.ts < ?",
            (self.venue, _iso(start), _iso(end)),
        )
        totals: dict[str, Decimal] = {}
        for r in rows:
            totals[r["symbol"]] = totals.get(r["symbol"], ZERO) + to_decimal(r["realized_pnl"])
        return totals


def _position_from_row(r: sqlite3.Row) -> Position:
    return Position(
        symbol=r["symbol"], quantity=to_decimal(r["quantity"]), cost_basis=to_decimal(r["cost_basis"]),
        realized_pnl=to_decimal(r["realized_pnl"]), fees_paid=to_decimal(r["fees_paid"]),
        last_fill_at=_parse(r["last_fill_at"]) if r["last_fill_at"] else None,
        opened_at=_parse(r["opened_at"]) if r["opened_at"] else None,
    )


def _fill_from_row(row: sqlite3.Row) -> FillReport:
    return FillReport(
        trade_id=row["trade_id"], exchange_order_id=int(row["exchange_order_id"]),
        client_order_id=row["client_order_id"], symbol=row["symbol"], side=Side(row["side"]),
        price=to_decimal(row["price"]), quantity=to_decimal(row["quantity"]), fee=to_decimal(row["fee"]),
        tax=to_decimal(row["tax"]), fee_asset=row["fee_asset"], timestamp=_parse(row["ts"]),
    )
