#!/usr/bin/env python3
"""Grow a state dir with a year of synthetic history (R-PERF, R-STATE-5), for scripts/bench_history.py.

    .venv/bin/python scripts/make_history.py --state-dir DIR [--cycles 100000] [--days 365] [--seed 7]

What it writes (defaults): 100,000 stage-3 dry-run cycles on the built-in simulator (one every ~5 minutes over
365 days, ending 10 minutes ago), one order per cycle (~100,000 orders, about 75% filled in one or two fills,
the rest cancelled, some after a partial fill, some as replace chains), their fills, one balance snapshot per
cycle and asset, the dedupe actions, and about 1,150,000 events shaped like a real cycle's (cycle started,
mode, one intent per symbol, dedupes, write-ahead, ack, fills, cancels, cycle finished).

Consistency with the simulator, so that a later `btcbot run` / `btcbot reconcile` on DIR is a realistic cycle:
- the simulator (DIR/sim.sqlite) is created exactly as a first `btcbot run` creates it (same seed), and the
  history uses exchange order and trade ids below the simulator's, so they never collide;
- every history order is terminal and every position ends flat (the last sell fills), so the venue has nothing
  open that the journal does not know, and the journal nothing live that the venue does not;
- positions and each fill's realized PnL are computed by the Store itself (`_rebuild_position`, the full
  replay), so they equal what the cycle would have recorded;
- the balance baseline is set so that baseline + every history fill equals the simulator's balances (the
  balance check and `reconcile` see no difference), with the running sum cached as a cycle leaves it.
Writes go through the Store's connection in bulk (one transaction per chunk): about a minute for the defaults.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

SYMBOLS = ("BTCTRY", "ETHTRY", "USDTTRY")
START_PRICE = {"BTCTRY": Decimal("3500000"), "ETHTRY": Decimal("120000"), "USDTTRY": Decimal("42.5")}
PRICE_STEP = {"BTCTRY": Decimal("1"), "ETHTRY": Decimal("1"), "USDTTRY": Decimal("0.001")}
QTY_STEP = {"BTCTRY": Decimal("0.00000001"), "ETHTRY": Decimal("0.00000001"), "USDTTRY": Decimal("0.01")}
NOTIONAL = Decimal("250")
MAKER_FEE, VAT = Decimal("0.0012"), Decimal("0.18")
FEE_STEP = Decimal("0.00000001")
ORDER_ID_BASE = 9_000_000_000  # the simulator's first order id is 10_000_000_000
TRADE_ID_BASE = 1_100_000_000_000_000_000  # ... its first trade id 1_181_163_798_924_640_000
MISSING_GATES = ("BTCBOT_DRY_RUN is true; BTCBOT_KILL_SWITCH is true; BTCBOT_LIVE_TRADING is not true; "
                 "BTCBOT_LIVE_TRADING_ACK is not I_UNDERSTAND")
CHUNK = 2000  # cycles per transaction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True, help="a new (or empty) state dir to fill")
    parser.add_argument("--cycles", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=365)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if (args.state_dir / "btcbot.sqlite").exists():
        sys.exit(f"{args.state_dir} already holds a journal; give a new directory")
    started = time.perf_counter()
    counts = grow(args.state_dir, args.cycles, timedelta(days=args.days), args.seed)
    took = time.perf_counter() - started
    size = (args.state_dir / "btcbot.sqlite").stat().st_size
    print(", ".join(f"{n:,} {t}" for t, n in counts.items()) + f"; {size / 1e6:.0f} MB in {took:.0f} s")


def grow(state_dir: Path, cycles: int, span: timedelta, seed: int) -> dict[str, int]:
    """Write the history into `state_dir` through a Store opened as a run opens it, then create the simulator
    holding what the history left; return row counts."""
    from btcbot.adapters.lock import instance_lock
    from btcbot.adapters.sim.config import SimConfig
    from btcbot.adapters.sqlite.db import ensure_private_dir
    from btcbot.adapters.sqlite.store import Store

    start_balances = {a: SimConfig().initial_balances.get(a, Decimal(0)) for a in SimConfig().assets}
    end = datetime.now(UTC) - timedelta(minutes=10)
    history = History(random.Random(seed), end - span, span / (cycles + 12), dict(start_balances))
    state_dir = ensure_private_dir(state_dir)
    with instance_lock(state_dir):
        store = Store.open(state_dir, "sim")
        try:
            conn = store.db.conn
            conn.execute("PRAGMA synchronous = OFF")  # a generator: after a crash, run it again
            for first in range(0, cycles, CHUNK):
                history.run(range(first, min(first + CHUNK, cycles)))
                history.flush_into(store)
            history.close_out(cycles)
            history.flush_into(store)
            with store.db.atomic() as tx:
                for symbol in SYMBOLS:
                    store._rebuild_position(tx, symbol, end)  # the replay the cycle itself uses
            _write_kv(store, history, start_balances)
            conn.execute("PRAGMA synchronous = FULL")
            counts = {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                      for t in ("events", "orders", "fills", "cycles", "balances")}
        finally:
            store.close()
        _create_simulator(state_dir, history.totals)
    return counts


def _create_simulator(state_dir: Path, holdings: dict[str, Decimal]) -> None:
    """The simulator as a first `btcbot run` creates it (the configured seed), holding `holdings`."""
    from btcbot.adapters.sim.config import SimConfig
    from btcbot.adapters.sim.exchange import SimExchange
    from btcbot.bootstrap import SIM_DB_FILENAME, SystemClock
    from btcbot.config import load_settings

    settings = load_settings(None, state_dir=state_dir)
    config = SimConfig(seed=settings.sim_seed, auto_advance=False, initial_balances=holdings)
    SimExchange.open(state_dir / SIM_DB_FILENAME, config, SystemClock()).close()


@dataclass(slots=True)
class Book:
    """One symbol's side of the generator: price walk, position, and the order waiting to be resolved."""

    symbol: str
    price: Decimal
    position: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)  # quote paid for `position`, fees included
    waiting: dict[str, Any] | None = None


@dataclass(slots=True)
class History:
    rnd: random.Random
    start: datetime
    step: timedelta
    totals: dict[str, Decimal]  # the account: starting balances + every fill so far
    books: dict[str, Book] = field(default_factory=dict)
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    last_at: datetime | None = None
    n_orders: int = 0
    n_fills: int = 0
    n_events: int = 0

    def __post_init__(self) -> None:
        self.books = {s: Book(s, START_PRICE[s]) for s in SYMBOLS}
        self.rows = {t: [] for t in ("cycles", "orders", "fills", "events", "balances", "actions", "chains")}

    # -- one cycle ---------------------------------------------------------------------------------------
    def run(self, cycles: range) -> None:
        for c in cycles:
            self.cycle(c, SYMBOLS[c % len(SYMBOLS)])

    def close_out(self, cycles: int) -> None:
        """Final cycles: every waiting order resolved, every position sold (the history ends flat)."""
        c = cycles
        for symbol in SYMBOLS:
            book = self.books[symbol]
            while book.waiting is not None or book.position > 0:
                self.cycle(c, symbol, force_fill=True)
                c += 1

    def cycle(self, c: int, symbol: str, force_fill: bool = False) -> None:
        cid, at = c + 1, self.start + self.step * c
        book = self.books[symbol]
        self._walk(at)
        self._event(cid, at, "CYCLE_STARTED", "3", None, None, {"mode": "dry-run"})
        self._event(cid, at, "MODE_SELECTED", "DRY-RUN", None, None, {"missing_gates": MISSING_GATES, "venue": "sim"})
        for other in SYMBOLS:
            side, kind = ("sell", "profit_capture_exit") if self.books[other].position > 0 else (
                "buy", "profit_capture_entry")
            self._event(cid, at, "INTENT_CREATED", kind, other, None, {
                "exit_kind": "", "price": str(self.books[other].price), "quantity": "0", "side": side})
        previous = book.waiting
        new_fills = self._resolve(cid, at, book) if previous is not None else 0
        if force_fill and book.position == 0:
            self._finish_cycle(cid, at, new_fills, submitted=0)
            return
        self._place(cid, at, book, previous, force_fill)
        for other in SYMBOLS:
            waiting = self.books[other].waiting
            if other != symbol and waiting is not None:
                self._event(cid, at, "ACTION_DEDUPED", "DEDUPE_ORDER_OPEN", other, None,
                            {"client_order_id": waiting["cid"], "side": waiting["side"], "stage": "plan"})
        self._finish_cycle(cid, at, new_fills, submitted=1)

    def _finish_cycle(self, cid: int, at: datetime, new_fills: int, submitted: int) -> None:
        done = at + timedelta(milliseconds=40)
        summary = {"cancel_requested": 0, "dropped": 2, "error": "", "intents": 3, "mode": "dry-run",
                   "new_fills": new_fills, "rejected": 0, "submitted": submitted, "symbols": list(SYMBOLS),
                   "timings_ms": {"decide": 1.2, "execute": 8.0, "reconcile": 6.1, "refresh": 2.3},
                   "unknown": 0, "venue": "sim"}
        self.rows["cycles"].append((cid, "3", "dry-run", "sim", _iso(at), _iso(done), "ok", 0,
                                    json.dumps(summary, sort_keys=True)))
        self._event(cid, done, "CYCLE_FINISHED", "ok", None, None, {"exit_code": "0"})
        self.last_at = done
        for asset, total in sorted(self.totals.items()):
            self.rows["balances"].append((cid, "sim", asset, str(total), "0", _iso(at)))

    def _walk(self, at: datetime) -> None:
        for book in self.books.values():
            drift = Decimal(str(round(self.rnd.gauss(0, 0.002), 6)))
            book.price = max(PRICE_STEP[book.symbol], (book.price * (1 + drift)).quantize(
                PRICE_STEP[book.symbol], ROUND_DOWN))

    # -- orders ------------------------------------------------------------------------------------------
    def _place(self, cid: int, at: datetime, book: Book, previous: dict[str, Any] | None, force_fill: bool) -> None:
        self.n_orders += 1
        n, symbol = self.n_orders, book.symbol
        side = "sell" if book.position > 0 else "buy"
        qty = book.position if side == "sell" else (NOTIONAL / book.price).quantize(QTY_STEP[symbol], ROUND_DOWN)
        exit_kind, price = None, book.price
        if side == "sell" and self.rnd.random() < 0.05:
            exit_kind = self.rnd.choice(("stop_loss", "take_profit", "ttl"))
        elif side == "sell":  # profit capture: at least 50 bps over the average cost
            floor = (book.cost / book.position * Decimal("1.005")).quantize(PRICE_STEP[symbol], ROUND_DOWN)
            price = max(price, floor + PRICE_STEP[symbol])
        reason = f"profit_capture_{'exit' if side == 'sell' else 'entry'}"
        intent_hash = hashlib.sha256(f"history|{n}".encode()).hexdigest()
        client = f"bb3{side[0]}-{symbol}-{intent_hash[:16]}"
        roll = 0.0 if force_fill else self.rnd.random()
        outcome = "filled" if roll < 0.75 else "partial" if roll < 0.85 else "canceled"
        parts = self.rnd.choice((1, 1, 2)) if outcome == "filled" else 1 if outcome == "partial" else 0
        fill_qty = qty if outcome == "filled" else (qty / 2).quantize(QTY_STEP[symbol], ROUND_DOWN)
        if fill_qty == 0:
            outcome, parts = "canceled", 0
        resolved = at + self.step * (1 if force_fill else len(SYMBOLS))  # when its symbol's next turn comes
        order = {"id": n, "cid": client, "exid": ORDER_ID_BASE + n, "side": side, "price": price,
                 "qty": qty, "filled": fill_qty if parts else Decimal(0), "parts": parts, "outcome": outcome,
                 "at": at, "resolved": resolved, "symbol": symbol}
        status = "FILLED" if outcome == "filled" else "CANCELED"
        self.rows["orders"].append((
            n, client, str(ORDER_ID_BASE + n), "sim", "3", symbol, side, "limit", str(price), str(qty),
            str(order["filled"]), str(order["filled"]), status, intent_hash, exit_kind, reason, 1, 0, 0, cid,
            _iso(at), _iso(resolved)))
        bucket = int(at.timestamp()) // 60
        self.rows["actions"].append((f"submit:{intent_hash[:24]}:{bucket}", "submit", intent_hash, bucket, cid,
                                     _iso(at)))
        self._event(cid, at, "ORDER_SUBMITTING", "WRITE_AHEAD", symbol, client, {
            "bumped": "False", "dry_run": "True", "oms": "SUBMIT_REQUESTED", "price": str(price),
            "quantity": str(qty), "side": side})
        self._event(cid, at, "ORDER_STATUS_CHANGED", "SUBMIT_ACKED", symbol, client, {
            "event": "ACKED", "exchange_order_id": str(ORDER_ID_BASE + n), "from": "SUBMITTING", "oms": "ACKED",
            "to": "OPEN"})
        book.waiting = order
        self._maybe_chain(cid, at, previous, order)

    def _maybe_chain(self, cid: int, at: datetime, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        """A cancelled order followed by an order on the same side: the replace chain step linking them."""
        if old is None or old["outcome"] != "canceled" or old["side"] != new["side"] or old["parts"]:
            return
        root = old.get("root", old["cid"])
        new["root"] = root
        seq = old.get("seq", 0) + 1
        new["seq"] = seq
        self.rows["chains"].append((
            "sim", root, seq, new["symbol"], new["side"], old["cid"], new["cid"], "REPLACED", "REPLACE_PRICE_MOVED",
            str(new["price"]), str(new["qty"]), "0", "0", "3", cid, _iso(at), _iso(at)))
        self._event(cid, at, "REPLACE_CHAIN_CHANGED", "SUBMITTED", new["symbol"], old["cid"], {
            "from": "READY", "to": "REPLACED", "new_client_order_id": new["cid"], "root": root, "seq": str(seq)})

    def _resolve(self, cid: int, at: datetime, book: Book) -> int:
        """The waiting order's fills (recorded this cycle) and its terminal status change."""
        order = book.waiting
        assert order is not None
        book.waiting = None
        if order["outcome"] != "filled":
            self._event(cid, at, "ORDER_STATUS_CHANGED", "STALE_ORDER", order["symbol"], order["cid"], {
                "event": "CANCEL_REQUESTED", "from": "OPEN", "oms": "CANCEL_REQUESTED", "to": "CANCEL_REQUESTED"})
        quantities = _split(order["filled"], order["parts"], QTY_STEP[order["symbol"]])
        for k, qty in enumerate(quantities):
            self._fill(cid, at, order, qty, order["at"] + (at - order["at"]) * (k + 1) / (len(quantities) + 1))
        if order["side"] == "buy":
            book.position += order["filled"]
            book.cost += order["filled"] * order["price"] * (1 + MAKER_FEE * (1 + VAT))
        elif order["filled"]:
            book.cost -= book.cost * order["filled"] / book.position
            book.position -= order["filled"]
        to = "FILLED" if order["outcome"] == "filled" else "CANCELED"
        self._event(cid, at, "ORDER_STATUS_CHANGED", "RECONCILED", order["symbol"], order["cid"], {
            "event": to, "from": "OPEN", "oms": to, "to": to, "venue_left": str(order["qty"] - order["filled"]),
            "venue_status": "Closed" if to == "FILLED" else "Canceled"})
        return len(quantities)

    def _fill(self, cid: int, at: datetime, order: dict[str, Any], qty: Decimal, ts: datetime) -> None:
        self.n_fills += 1
        n, symbol, price, side = self.n_fills, order["symbol"], order["price"], order["side"]
        fee = (price * qty * MAKER_FEE).quantize(FEE_STEP, ROUND_DOWN)
        tax = (fee * VAT).quantize(FEE_STEP, ROUND_DOWN)
        trade_id = str(TRADE_ID_BASE + n)
        self.rows["fills"].append((n, "sim", trade_id, order["id"], str(order["exid"]), order["cid"], symbol, side,
                                   str(price), str(qty), str(fee), str(tax), "TRY", "0", _iso(ts), cid))
        self._event(cid, at, "FILL_RECORDED", "FILL_NEW", symbol, order["cid"], {
            "fee": str(fee), "ours": "True", "price": str(price), "quantity": str(qty), "side": side,
            "tax": str(tax), "trade_id": trade_id})
        base = symbol[:-3]
        notional = price * qty
        self.totals[base] += qty if side == "buy" else -qty
        self.totals["TRY"] += (-notional if side == "buy" else notional) - fee - tax

    def _event(self, cid: int, at: datetime, kind: str, code: str, symbol: str | None, client: str | None,
               detail: dict[str, str]) -> None:
        self.n_events += 1
        eid = hashlib.sha256(f"history|{self.n_events}".encode()).hexdigest()[:32]
        self.rows["events"].append((self.n_events, eid, cid, _iso(at), kind, symbol, client, code,
                                    json.dumps(detail, sort_keys=True)))

    # -- writing -----------------------------------------------------------------------------------------
    def flush_into(self, store: Any) -> None:
        """Insert the buffered rows (parents first: foreign keys are on) in one transaction."""
        sql = {
            "cycles": "INSERT INTO cycles (id, stage, mode, venue, started_at, finished_at, outcome, exit_code, "
                      "summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            "orders": "INSERT INTO orders (id, client_order_id, exchange_order_id, venue, stage, symbol, side, "
                      "method, price, quantity, filled_quantity, exchange_filled, status, intent_hash, exit_kind, "
                      "reason, dry_run, external, probe_count, cycle_id, created_at, updated_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            "fills": "INSERT INTO fills (id, venue, trade_id, order_id, exchange_order_id, client_order_id, symbol, "
                     "side, price, quantity, fee, tax, fee_asset, realized_pnl, ts, cycle_id) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            "events": "INSERT INTO events (id, event_id, cycle_id, ts, kind, symbol, client_order_id, code, "
                      "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            "balances": "INSERT INTO balances (cycle_id, venue, asset, free, locked, as_of) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
            "actions": "INSERT INTO actions (dedupe_key, action_type, payload_hash, bucket, cycle_id, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
            "chains": "INSERT INTO replace_chains (venue, root_client_order_id, seq, symbol, side, "
                      "old_client_order_id, new_client_order_id, state, trigger, planned_price, planned_quantity, "
                      "old_filled_at_request, old_filled_seen, stage, cycle_id, created_at, updated_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        }
        with store.db.atomic() as conn:
            for table, statement in sql.items():
                conn.executemany(statement, self.rows[table])
                self.rows[table].clear()


def _write_kv(store: Any, history: History, start_balances: dict[str, Decimal]) -> None:
    """Marks, equity, the balance baseline taken when the history began (the simulator's starting balances),
    and the balance check's running sum as the last cycle left it (baseline + every fill)."""
    end = history.last_at or history.start
    baseline = json.dumps({"as_of": history.start.isoformat(), "fill_row": 0,
                           "totals": {a: str(v) for a, v in sorted(start_balances.items())}}, sort_keys=True)
    implied = {"as_of": history.start.isoformat(), "baseline": baseline, "fill_row": history.n_fills,
               "totals": {a: str(v) for a, v in sorted(history.totals.items())}}
    marks = {s: str(b.price) for s, b in history.books.items()}
    equity = history.totals["TRY"] + history.totals["USDT"] * history.books["USDTTRY"].price
    for key, value in (("balance_baseline", baseline), ("balance_implied", json.dumps(implied, sort_keys=True)),
                       ("balance_mismatch_streak", "0"), ("marks", json.dumps(marks, sort_keys=True)),
                       ("equity_try", str(equity)), ("peak_equity_try", str(equity)),
                       ("last_cycle_ok_at", _iso(end))):
        store.set_kv(key, value, end)


def _split(total: Decimal, parts: int, step: Decimal) -> list[Decimal]:
    if parts <= 1:
        return [total] if parts == 1 and total > 0 else []
    first = (total / 2).quantize(step, ROUND_DOWN)
    return [q for q in (first, total - first) if q > 0]


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


if __name__ == "__main__":
    main()
