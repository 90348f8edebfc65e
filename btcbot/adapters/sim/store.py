"""SQLite persistence of the simulator (stdlib sqlite3, WAL, money as TEXT decimal strings).

Tables: meta (seed, tick, wall/event times, id counters), mids, book_levels, balances, orders (with
`cancel_due` for pending cancels) and fills. Each `save` is one transaction.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from btcbot.adapters.sim.state import Changes, EngineState, Holding, Level, SimBook, SimFill, SimOrder
from btcbot.adapters.sqlite.health import check_header, state_error
from btcbot.domain.errors import StateError
from btcbot.domain.models import ExchangeOrderStatus, FillReport, OrderMethod, Side
from btcbot.domain.money import dec_str

__all__ = ["SCHEMA_VERSION", "SimStore"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE mids (symbol TEXT PRIMARY KEY, mid TEXT NOT NULL);
CREATE TABLE book_levels (
    symbol TEXT NOT NULL, side TEXT NOT NULL, idx INTEGER NOT NULL,
    price TEXT NOT NULL, quantity TEXT NOT NULL,
    PRIMARY KEY (symbol, side, idx)
);
CREATE TABLE balances (asset TEXT PRIMARY KEY, free TEXT NOT NULL, locked TEXT NOT NULL);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY, client_order_id TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
    method TEXT NOT NULL, price TEXT NOT NULL, quantity TEXT NOT NULL, left_quantity TEXT NOT NULL,
    requested TEXT NOT NULL, locked TEXT NOT NULL, status TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, cancel_due TEXT
);
CREATE INDEX orders_by_symbol ON orders (symbol, id);
CREATE TABLE fills (
    trade_id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders (id),
    client_order_id TEXT, symbol TEXT NOT NULL, side TEXT NOT NULL, price TEXT NOT NULL,
    quantity TEXT NOT NULL, fee TEXT NOT NULL, tax TEXT NOT NULL, fee_asset TEXT NOT NULL,
    timestamp TEXT NOT NULL, maker INTEGER NOT NULL
);
"""

_META_INT = ("seed", "tick", "next_order_id", "next_trade_id")
_META_TIME = ("last_wall", "last_event")
_ORDER_COLS = (
    "id, client_order_id, symbol, side, method, price, quantity, left_quantity, requested, locked, "
    "status, created_at, updated_at, cancel_due"
)
_FILL_COLS = "trade_id, order_id, client_order_id, symbol, side, price, quantity, fee, tax, fee_asset, timestamp, maker"


def _ts(value: datetime) -> str:
    return value.isoformat()


class SimStore:
    """One SQLite database (file or in-memory) holding one simulated exchange."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def connect(cls, path: Path | None) -> SimStore:
        target = ":memory:" if path is None else str(path)
        created = False
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            created = not path.exists()
            if not created:
                check_header(path)  # a damaged file is refused untouched (StateError, exit 2)
        try:
            conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            if path is not None and created:
                os.chmod(path, 0o600)  # like the journal: the state dir's files are the owner's only
            if path is not None:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA foreign_keys=ON")
            store = cls(conn)
            store._migrate()
        except sqlite3.Error as exc:
            raise (state_error(target, exc) or exc) from None
        return store

    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StateError(f"simulator database schema {version} is newer than this btcbot ({SCHEMA_VERSION})")
        if version == 0:
            self._conn.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def close(self) -> None:
        self._conn.close()

    # ---------------------------------------------------------------------------------------- load

    def load(self) -> EngineState | None:
        """The stored state, or None for a new database."""
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            return None
        state = EngineState(
            seed=int(meta["seed"]),
            tick=int(meta["tick"]),
            last_wall=datetime.fromisoformat(meta["last_wall"]),
            last_event=datetime.fromisoformat(meta["last_event"]),
            next_order_id=int(meta["next_order_id"]),
            next_trade_id=int(meta["next_trade_id"]),
        )
        for symbol, mid in self._conn.execute("SELECT symbol, mid FROM mids"):
            state.mids[symbol] = Decimal(mid)
            state.books[symbol] = SimBook()
        levels = "SELECT symbol, side, price, quantity FROM book_levels ORDER BY symbol, side, idx"
        for symbol, side, price, quantity in self._conn.execute(levels):
            book = state.books.setdefault(symbol, SimBook())
            book.side(Side(side)).append(Level(Decimal(price), Decimal(quantity)))
        for asset, free, locked in self._conn.execute("SELECT asset, free, locked FROM balances"):
            state.holdings[asset] = Holding(Decimal(free), Decimal(locked))
        for row in self._conn.execute(f"SELECT {_ORDER_COLS} FROM orders ORDER BY id"):
            order = _order_from_row(row)
            state.orders[order.order_id] = order
        for row in self._conn.execute(f"SELECT {_FILL_COLS} FROM fills ORDER BY trade_id"):
            state.fills.append(_fill_from_row(row))
        return state

    # ---------------------------------------------------------------------------------------- save

    def save(self, state: EngineState, changes: Changes) -> None:
        """Write `changes` (and, when the market changed, the small tables) in one transaction."""
        if changes.empty:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            if changes.market:
                self._write_market(state)
            self._write_orders(state.orders[oid] for oid in sorted(changes.orders))
            self._write_fills(changes.fills)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _write_market(self, state: EngineState) -> None:
        meta = {key: str(getattr(state, key)) for key in _META_INT}
        meta.update({key: _ts(getattr(state, key)) for key in _META_TIME})
        self._conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta.items())
        self._conn.executemany(
            "INSERT OR REPLACE INTO mids (symbol, mid) VALUES (?, ?)",
            [(symbol, dec_str(mid)) for symbol, mid in state.mids.items()],
        )
        self._conn.execute("DELETE FROM book_levels")
        rows = [
            (symbol, side.value, idx, dec_str(level.price), dec_str(level.quantity))
            for symbol, book in state.books.items()
            for side in (Side.BUY, Side.SELL)
            for idx, level in enumerate(book.side(side))
        ]
        self._conn.executemany("INSERT INTO book_levels VALUES (?, ?, ?, ?, ?)", rows)
        self._conn.executemany(
            "INSERT OR REPLACE INTO balances (asset, free, locked) VALUES (?, ?, ?)",
            [(asset, dec_str(h.free), dec_str(h.locked)) for asset, h in state.holdings.items()],
        )

    def _write_orders(self, orders: Iterable[SimOrder]) -> None:
        rows = [
            (
                o.order_id, o.client_order_id, o.symbol, o.side.value, o.method.value, dec_str(o.price),
                dec_str(o.quantity), dec_str(o.left), dec_str(o.requested), dec_str(o.locked),
                o.status.value, _ts(o.created_at), _ts(o.updated_at),
                None if o.cancel_due is None else _ts(o.cancel_due),
            )
            for o in orders
        ]  # fmt: skip
        self._conn.executemany(f"INSERT OR REPLACE INTO orders ({_ORDER_COLS}) VALUES ({_marks(14)})", rows)

    def _write_fills(self, fills: Iterable[SimFill]) -> None:
        rows = [
            (
                f.trade_id, r.exchange_order_id, r.client_order_id, r.symbol, r.side.value, dec_str(r.price),
                dec_str(r.quantity), dec_str(r.fee), dec_str(r.tax), r.fee_asset, _ts(r.timestamp),
                int(f.maker),
            )
            for f in fills
            for r in (f.report,)
        ]  # fmt: skip
        self._conn.executemany(f"INSERT INTO fills ({_FILL_COLS}) VALUES ({_marks(12)})", rows)


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _order_from_row(row: tuple[object, ...]) -> SimOrder:
    (oid, cid, symbol, side, method, price, qty, left, requested, locked, status, created, updated, due) = row
    return SimOrder(
        order_id=int(str(oid)),
        client_order_id=str(cid),
        symbol=str(symbol),
        side=Side(str(side)),
        method=OrderMethod(str(method)),
        price=Decimal(str(price)),
        quantity=Decimal(str(qty)),
        left=Decimal(str(left)),
        requested=Decimal(str(requested)),
        status=ExchangeOrderStatus(str(status)),
        created_at=datetime.fromisoformat(str(created)),
        updated_at=datetime.fromisoformat(str(updated)),
        locked=Decimal(str(locked)),
        cancel_due=None if due is None else datetime.fromisoformat(str(due)),
    )


def _fill_from_row(row: tuple[object, ...]) -> SimFill:
    (trade_id, oid, cid, symbol, side, price, qty, fee, tax, fee_asset, timestamp, maker) = row
    report = FillReport(
        trade_id=str(trade_id),
        exchange_order_id=int(str(oid)),
        client_order_id=None if cid is None else str(cid),
        symbol=str(symbol),
        side=Side(str(side)),
        price=Decimal(str(price)),
        quantity=Decimal(str(qty)),
        fee=Decimal(str(fee)),
        tax=Decimal(str(tax)),
        fee_asset=str(fee_asset),
        timestamp=datetime.fromisoformat(str(timestamp)),
    )
    return SimFill(report, bool(maker))
