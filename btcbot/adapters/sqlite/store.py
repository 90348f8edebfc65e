"""The Store: rows <-> domain objects. Every state change commits together with its event row.

A Store is scoped to one venue ("sim", "paper" or "btcturk"): orders, fills, positions, balances and rule
caches of other venues are invisible to it, so dry-run and live journals never mix.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from btcbot.adapters.sqlite.breaker import BreakerMixin
from btcbot.adapters.sqlite.chains import ChainsMixin
from btcbot.adapters.sqlite.compaction import CompactionMixin
from btcbot.adapters.sqlite.db import Database, ensure_private_dir
from btcbot.adapters.sqlite.fills import FillsMixin
from btcbot.adapters.sqlite.idempotency import IdempotencyMixin
from btcbot.adapters.sqlite.lookups import LookupsMixin
from btcbot.adapters.sqlite.migrations import migrate
from btcbot.adapters.sqlite.mixin import iso, parse_iso
from btcbot.adapters.sqlite.trails import TrailsMixin
from btcbot.domain.errors import StateError
from btcbot.domain.events import Event, EventKind
from btcbot.domain.ids import event_id
from btcbot.domain.models import Balance, LocalOrder, OrderMethod, Side, TradingState
from btcbot.domain.money import dec_str, to_decimal
from btcbot.domain.oms import oms_state
from btcbot.domain.order_fsm import OrderEvent, OrderStatus, transition
from btcbot.domain.symbols import SymbolRules

__all__ = ["DB_FILENAME", "Store", "iso", "parse_iso"]

DB_FILENAME = "btcbot.sqlite"


def _d(text: str) -> Decimal:
    return to_decimal(text)


class Store(FillsMixin, TrailsMixin, IdempotencyMixin, BreakerMixin, ChainsMixin, LookupsMixin, CompactionMixin):
    """Persistence for one venue. Use `Store.open(state_dir, venue)`."""

    def __init__(self, db: Database, venue: str) -> None:
        self.db = db
        self.venue = venue
        self._event_seq = 0

    @classmethod
    def open(cls, state_dir: Path, venue: str) -> Store:
        ensure_private_dir(state_dir)
        db = Database(state_dir / DB_FILENAME)
        try:
            migrate(db)
        except BaseException:
            db.close()
            raise
        return cls(db, venue)

    @classmethod
    def open_existing(cls, state_dir: Path, venue: str) -> Store:
        """Read-only commands: the existing journal, opened `mode=ro`, never created or migrated."""
        from btcbot.adapters.sqlite.migrations import require_current
        from btcbot.adapters.state_dir import require_existing_state

        require_existing_state(state_dir, DB_FILENAME)
        db = Database(state_dir / DB_FILENAME, read_only=True)
        try:
            require_current(db)
        except BaseException:
            db.close()
            raise
        return cls(db, venue)

    @classmethod
    def in_memory(cls, venue: str) -> Store:
        """A private journal in memory: never touches the state directory, gone on close."""
        db = Database(":memory:")
        migrate(db)
        return cls(db, venue)

    def close(self) -> None:
        self.db.close()

    # -- events ----------------------------------------------------------------------------------------
    def _insert_event(self, conn: sqlite3.Connection, event: Event, cycle_id: int | None, now: datetime,
                      key: str | None = None) -> None:
        """Insert an event; `key` makes its id deterministic so a re-derived fact is recorded once."""
        self._event_seq += 1
        eid = event_id(key) if key else event_id(cycle_id, iso(now), self._event_seq, event.kind,
                                                  event.client_order_id, event.code)
        conn.execute(
            "INSERT OR IGNORE INTO events (event_id, cycle_id, ts, kind, symbol, client_order_id, code, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (eid, cycle_id, iso(now), event.kind.value, event.symbol, event.client_order_id, event.code,
             json.dumps(event.detail, sort_keys=True)),
        )

    def record(self, events: Iterable[Event], cycle_id: int | None, now: datetime,
               key: Callable[[Event], str] | None = None) -> None:
        """Write decision events in one transaction; `key` gives re-derived facts a deterministic id."""
        events = list(events)
        if not events:  # nothing to write: no transaction
            return
        with self.db.atomic() as conn:
            for event in events:
                self._insert_event(conn, event, cycle_id, now, key=key(event) if key else None)

    def events(self, cycle_id: int | None = None, kind: EventKind | None = None) -> list[sqlite3.Row]:
        sql, params = "SELECT * FROM events WHERE 1=1", list[object]()
        if cycle_id is not None:
            sql += " AND cycle_id = ?"
            params.append(cycle_id)
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind.value)
        return self.db.query(sql + " ORDER BY id", tuple(params))

    # -- cycles ----------------------------------------------------------------------------------------
    def start_cycle(self, stage: str, mode: str, now: datetime, events: Iterable[Event] = ()) -> int:
        """Record a cycle's start, with its CYCLE_STARTED event and `events`, in one transaction (not waited
        for on disk: the run's later durable commits carry it, R-STATE-3)."""
        with self.db.atomic(durable=False) as conn:
            cur = conn.execute(
                "INSERT INTO cycles (stage, mode, venue, started_at) VALUES (?, ?, ?, ?)",
                (stage, mode, self.venue, iso(now)),
            )
            cycle_id = int(cur.lastrowid or 0)
            self._insert_event(conn, Event(EventKind.CYCLE_STARTED, stage, detail={"mode": mode}), cycle_id, now)
            for event in events:
                self._insert_event(conn, event, cycle_id, now)
        return cycle_id

    def finish_cycle(
        self, cycle_id: int, outcome: str, exit_code: int, summary: dict[str, Any], now: datetime,
        first: Callable[[], object] | None = None,
    ) -> None:
        """Record the cycle's outcome; `first` (e.g. the circuit breaker's count) runs in the same transaction."""
        with self.db.atomic() as conn:
            if first is not None:
                first()
            conn.execute(
                "UPDATE cycles SET finished_at = ?, outcome = ?, exit_code = ?, summary = ? WHERE id = ?",
                (iso(now), outcome, exit_code, json.dumps(summary, sort_keys=True, default=str), cycle_id),
            )
            event = Event(EventKind.CYCLE_FINISHED, outcome, detail={"exit_code": str(exit_code)})
            self._insert_event(conn, event, cycle_id, now)
            if exit_code == 0:
                self._set_kv(conn, "last_cycle_ok_at", iso(now), now)

    # -- key/value and trading state --------------------------------------------------------------------
    def _set_kv(self, conn: sqlite3.Connection, key: str, value: str, now: datetime) -> None:
        conn.execute(
            "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, value, iso(now)),
        )

    def get_kv(self, key: str) -> str | None:
        row = self.db.query_one("SELECT value FROM kv WHERE key = ?", (key,))
        return str(row["value"]) if row else None

    def set_kv(self, key: str, value: str, now: datetime) -> None:
        with self.db.atomic() as conn:
            self._set_kv(conn, key, value, now)

    def trading_state(self) -> TradingState:
        value = self.get_kv("trading_state")
        return TradingState(value) if value else TradingState.NORMAL

    def set_trading_state(self, state: TradingState, reason: str, cycle_id: int | None, now: datetime) -> bool:
        """Persist a new trading state with its event; returns False when it was already in force."""
        with self.db.atomic() as conn:
            previous = self.trading_state()
            if previous is state:
                return False
            self._set_kv(conn, "trading_state", state.value, now)
            self._set_kv(conn, "trading_state_reason", reason, now)
            event = Event(EventKind.TRADING_STATE_CHANGED, reason,
                          detail={"from": previous.value, "to": state.value})
            self._insert_event(conn, event, cycle_id, now)
        return True

    def trading_state_since(self) -> tuple[str | None, datetime | None]:
        """Why and since when the trading state is what it is (None, None: never changed)."""
        row = self.db.query_one("SELECT updated_at FROM kv WHERE key = 'trading_state'")
        return self.get_kv("trading_state_reason"), parse_iso(row["updated_at"]) if row else None

    # -- exchange rules cache (R-EX-5) -----------------------------------------------------------------
    def cached_rules(self, now: datetime, ttl: timedelta) -> dict[str, SymbolRules] | None:
        rows = self.db.query("SELECT * FROM exchange_rules WHERE venue = ?", (self.venue,))
        if not rows or any(parse_iso(r["fetched_at"]) + ttl < now for r in rows):
            return None
        return {r["symbol"]: _rules_from_json(r["payload"]) for r in rows}

    def save_rules(self, rules: Iterable[SymbolRules], now: datetime) -> None:
        with self.db.atomic() as conn:
            conn.execute("DELETE FROM exchange_rules WHERE venue = ?", (self.venue,))
            conn.executemany(
                "INSERT INTO exchange_rules (venue, symbol, payload, fetched_at) VALUES (?, ?, ?, ?)",
                [(self.venue, r.symbol, _rules_to_json(r), iso(now)) for r in rules],
            )

    # -- balances --------------------------------------------------------------------------------------
    def save_balances(self, cycle_id: int, balances: Sequence[Balance], now: datetime) -> None:
        with self.db.atomic() as conn:
            conn.executemany(
                "INSERT INTO balances (cycle_id, venue, asset, free, locked, as_of) VALUES (?, ?, ?, ?, ?, ?)",
                [(cycle_id, self.venue, b.asset, dec_str(b.free), dec_str(b.locked), iso(now)) for b in balances],
            )

    def latest_balances(self) -> tuple[list[Balance], datetime | None]:
        row = self.db.query_one("SELECT MAX(cycle_id) AS c FROM balances WHERE venue = ?", (self.venue,))
        if not row or row["c"] is None:
            return [], None
        rows = self.db.query(
            "SELECT * FROM balances WHERE venue = ? AND cycle_id = ? ORDER BY asset", (self.venue, row["c"])
        )
        as_of = parse_iso(rows[0]["as_of"]) if rows else None
        return [Balance(r["asset"], _d(r["free"]), _d(r["locked"])) for r in rows], as_of

    # -- actions (dedupe, R-EXEC-2) --------------------------------------------------------------------
    def claim_action(
        self, key: str, action_type: str, payload_hash: str, bucket: int, cycle_id: int, now: datetime
    ) -> bool:
        """Record an action; False when the same key was already recorded (deduped)."""
        with self.db.atomic() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO actions (dedupe_key, action_type, payload_hash, bucket, cycle_id, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key, action_type, payload_hash, bucket, cycle_id, iso(now)),
            )
            return cur.rowcount == 1

    # -- rate-limit blocks (R-EX-4), the adapter's block store -----------------------------------------
    def load_blocks(self) -> dict[str, datetime]:
        rows = self.db.query("SELECT endpoint, blocked_until FROM rate_limit_blocks")
        return {r["endpoint"]: parse_iso(r["blocked_until"]) for r in rows}

    def save_block(self, endpoint: str, until: datetime) -> None:
        with self.db.atomic() as conn:
            conn.execute(
                "INSERT INTO rate_limit_blocks (endpoint, blocked_until) VALUES (?, ?) ON CONFLICT(endpoint) "
                "DO UPDATE SET blocked_until = MAX(blocked_until, excluded.blocked_until)",
                (endpoint, iso(until)),
            )

    def load_windows(self) -> dict[str, list[datetime]]:
        rows = self.db.query("SELECT window_key, stamps FROM rate_limit_windows")
        return {r["window_key"]: [parse_iso(s) for s in json.loads(r["stamps"])] for r in rows}

    def save_windows(self, windows: Mapping[str, Sequence[datetime]]) -> None:
        """Replace the stamps of the given window keys; an empty list removes the key. Not waited for on disk:
        the stamps must survive a killed run (they do); after a power loss their window is long over."""
        with self.db.atomic(durable=False) as conn:
            conn.executemany("DELETE FROM rate_limit_windows WHERE window_key = ?",
                             [(key,) for key, stamps in windows.items() if not stamps])
            conn.executemany(
                "INSERT INTO rate_limit_windows (window_key, stamps) VALUES (?, ?) ON CONFLICT(window_key) "
                "DO UPDATE SET stamps = excluded.stamps",
                [(key, json.dumps([iso(s) for s in stamps])) for key, stamps in windows.items() if stamps],
            )

    # -- orders ----------------------------------------------------------------------------------------
    def insert_order(self, order: LocalOrder, cycle_id: int | None, event: Event, now: datetime,
                     event_key: str | None = None) -> None:
        """Write-ahead: the order row and its event commit before any network call (R-EXEC-3); `event_key`
        makes the event's id deterministic."""
        if self.db.relaxed:
            raise StateError("an order row must commit durably: not inside atomic(durable=False)")
        with self.db.atomic() as conn:
            conn.execute(
                "INSERT INTO orders (client_order_id, exchange_order_id, venue, stage, symbol, side, method, "
                "price, quantity, filled_quantity, exchange_filled, status, intent_hash, exit_kind, reason, "
                "dry_run, external, probe_count, cycle_id, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (order.client_order_id, _exid(order.exchange_order_id), self.venue, order.stage, order.symbol,
                 order.side.value, order.method.value, dec_str(order.price), dec_str(order.quantity),
                 dec_str(order.filled_quantity), dec_str(order.exchange_filled), order.status.value,
                 order.intent_hash, order.exit_kind, order.reason, int(order.dry_run), int(order.external),
                 order.probe_count, cycle_id, iso(order.created_at), iso(order.updated_at)),
            )
            self._insert_event(conn, event, cycle_id, now, key=event_key)

    def apply_order_event(
        self,
        client_order_id: str,
        order_event: OrderEvent,
        *,
        now: datetime,
        cycle_id: int | None,
        code: str = "",
        detail: dict[str, str] | None = None,
        exchange_order_id: int | None = None,
        exchange_filled: Decimal | None = None,
    ) -> LocalOrder:
        """Move an order through the FSM and write the event in the same transaction."""
        with self.db.atomic() as conn:
            order = self._order_where(conn, "client_order_id = ?", (client_order_id,))
            if order is None:
                raise KeyError(client_order_id)
            new_status = transition(order.status, order_event)
            exid = exchange_order_id if exchange_order_id is not None else order.exchange_order_id
            # a lagging report never lowers what the venue already said was filled
            filled = order.exchange_filled if exchange_filled is None else max(exchange_filled, order.exchange_filled)
            merged = exid is not None and exid != order.exchange_order_id and self._absorb_external(
                conn, client_order_id, exid, now, cycle_id)
            conn.execute(
                "UPDATE orders SET status = ?, exchange_order_id = ?, exchange_filled = ?, updated_at = ? "
                "WHERE client_order_id = ?",
                (new_status.value, _exid(exid), dec_str(filled), iso(now), client_order_id),
            )
            if merged and exid is not None:  # the merged fills are ours now: totals and position follow
                self._refresh_order_totals(conn, {exid})
                self._rebuild_position(conn, order.symbol, now)
            info = {"from": order.status.value, "to": new_status.value, "event": order_event.value,
                    "oms": oms_state(new_status, max(order.filled_quantity, filled)).value}  # stage-7 name
            info.update(detail or {})
            if exid is not None:
                info["exchange_order_id"] = str(exid)
            event = Event(EventKind.ORDER_STATUS_CHANGED, code or order_event.value, order.symbol,
                          client_order_id, info)
            self._insert_event(conn, event, cycle_id, now)
            updated = self._order_where(conn, "client_order_id = ?", (client_order_id,))
        assert updated is not None
        return updated

    def note_probe(self, client_order_id: str, *, now: datetime, cycle_id: int | None, code: str,
                   detail: dict[str, str]) -> LocalOrder:
        """Count one inconclusive search for an in-flight order (bounded budget, R-EXEC-4)."""
        with self.db.atomic() as conn:
            conn.execute(
                "UPDATE orders SET probe_count = probe_count + 1, updated_at = ? WHERE client_order_id = ?",
                (iso(now), client_order_id),
            )
            order = self._order_where(conn, "client_order_id = ?", (client_order_id,))
            assert order is not None
            info = dict(detail, probes=str(order.probe_count))
            self._insert_event(conn, Event(EventKind.ORDER_PROBED, code, order.symbol, client_order_id, info),
                               cycle_id, now)
        return order

    def order(self, client_order_id: str) -> LocalOrder | None:
        with self.db.atomic() as conn:
            return self._order_where(conn, "client_order_id = ?", (client_order_id,))

    def order_by_exchange_id(self, exchange_order_id: int) -> LocalOrder | None:
        with self.db.atomic() as conn:
            return self._order_where(conn, "venue = ? AND exchange_order_id = ?",
                                     (self.venue, str(exchange_order_id)))

    def orders(self, statuses: Iterable[OrderStatus] | None = None, symbol: str | None = None,
               include_external: bool = True, exit_kinds: Iterable[str] | None = None,
               created_since: datetime | None = None) -> list[LocalOrder]:
        """This venue's orders, oldest first, filtered in SQL (the cycle must not load the whole history)."""
        sql, params = "SELECT * FROM orders WHERE venue = ?", list[object]([self.venue])
        if exit_kinds is not None:
            kinds = sorted(exit_kinds)
            sql += f" AND exit_kind IN ({','.join('?' * len(kinds))})"
            params.extend(kinds)
        if created_since is not None:
            sql += " AND created_at >= ?"
            params.append(iso(created_since))
        if statuses is not None:
            wanted = [s.value for s in statuses]
            sql += f" AND status IN ({','.join('?' * len(wanted))})"
            params.extend(wanted)
        if symbol is not None:
            sql += " AND symbol = ?"
            params.append(symbol)
        if not include_external:
            sql += " AND external = 0"
        return [_order_from_row(r) for r in self.db.query(sql + " ORDER BY id", tuple(params))]

    def orders_with_fill_gap(self, updated_since: datetime) -> list[LocalOrder]:
        """Terminal orders updated since `updated_since` whose recorded fills differ from the venue's filled
        figure (money columns are canonical strings, so string inequality is decimal inequality). `+status`
        keeps the planner on the partial index of such orders (there are few) instead of every recent order."""
        rows = self.db.query(
            "SELECT * FROM orders WHERE venue = ? AND +status IN (?, ?) AND filled_quantity != exchange_filled "
            "AND updated_at >= ? ORDER BY id",
            (self.venue, OrderStatus.FILLED.value, OrderStatus.CANCELED.value, iso(updated_since)),
        )
        return [_order_from_row(r) for r in rows]

    def _order_where(self, conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> LocalOrder | None:
        row = conn.execute(f"SELECT * FROM orders WHERE {where}", params).fetchone()
        return _order_from_row(row) if row else None


def _exid(value: int | None) -> str | None:
    return str(value) if value is not None else None


def _order_from_row(row: sqlite3.Row) -> LocalOrder:
    return _parse_order(tuple(row.keys()), tuple(row))


@functools.lru_cache(maxsize=4096)
def _parse_order(keys: tuple[str, ...], values: tuple[Any, ...]) -> LocalOrder:
    """A row's LocalOrder (frozen), memoised by the row's content: an order that did not change since the last
    read (an open order, cycle after cycle) is not parsed again."""
    r = dict(zip(keys, values, strict=True))
    return LocalOrder(
        client_order_id=r["client_order_id"],
        exchange_order_id=int(r["exchange_order_id"]) if r["exchange_order_id"] is not None else None,
        venue=r["venue"], stage=r["stage"], symbol=r["symbol"], side=Side(r["side"]),
        method=OrderMethod(r["method"]), price=_d(r["price"]), quantity=_d(r["quantity"]),
        filled_quantity=_d(r["filled_quantity"]), exchange_filled=_d(r["exchange_filled"]),
        status=OrderStatus(r["status"]), intent_hash=r["intent_hash"], dry_run=bool(r["dry_run"]),
        external=bool(r["external"]), probe_count=int(r["probe_count"]),
        created_at=parse_iso(r["created_at"]), updated_at=parse_iso(r["updated_at"]),
        exit_kind=r["exit_kind"], reason=r["reason"],
    )


def _rules_to_json(rules: SymbolRules) -> str:
    data = {k: (dec_str(v) if isinstance(v, Decimal) else v) for k, v in
            ((f, getattr(rules, f)) for f in SymbolRules.__dataclass_fields__)}
    return json.dumps(data, sort_keys=True)


def _rules_from_json(payload: str) -> SymbolRules:
    data: dict[str, Any] = json.loads(payload)
    decimals = ("tick_size", "min_notional", "min_price", "max_price", "band_low", "band_high")
    for name in decimals:
        if data.get(name) is not None:
            data[name] = to_decimal(data[name])
    return SymbolRules(**data)
