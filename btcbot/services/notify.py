"""What is worth a notification, read from the events a run already wrote (nothing is computed twice):

- every fill;
- a cycle that exits 1 or 3 after one that did not (the first of a streak), and the first ok cycle after them;
- trading-state changes, circuit-breaker changes;
- reconcile differences: an external order tagged, a balance mismatch seen a second cycle in a row (the one
  that can switch trading to REDUCE_ONLY), and what `btcbot reconcile` found.

Off unless `BTCBOT_NOTIFY_URL` is set; sent after the run's state is committed and its lock released.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from btcbot import __version__
from btcbot.adapters.notify import Notification
from btcbot.adapters.sqlite.store import Store
from btcbot.adapters.sqlite.views import cycle_before, cycle_by_id, events_after
from btcbot.config import Settings
from btcbot.domain.display import Scales, scales_of
from btcbot.domain.events import EventKind
from btcbot.domain.symbols import SymbolRules

__all__ = ["NOTIFIED_KINDS", "differences_notification", "run_notification"]

NOTIFIED_KINDS = (EventKind.FILL_RECORDED, EventKind.CYCLE_FINISHED, EventKind.TRADING_STATE_CHANGED,
                  EventKind.BREAKER_CHANGED, EventKind.BALANCE_MISMATCH, EventKind.EXTERNAL_ORDER_DETECTED)
_FAILED = (1, 3)


def run_notification(store: Store, settings: Settings, since_event_id: int,
                     rules: dict[str, SymbolRules]) -> Notification | None:
    """The notification for the events written after `since_event_id` (None: nothing worth one)."""
    rows = events_after(store, since_event_id, NOTIFIED_KINDS)
    picked: list[tuple[sqlite3.Row, str]] = []
    for row in rows:
        line = _LINES[EventKind(row["kind"])](row, _detail(row), store, rules)
        if line:
            picked.append((row, line))
    if not picked:
        return None
    context = {"exchange": settings.exchange, "venue": store.venue, "version": __version__}
    head = f"btcbot on {settings.exchange} ({store.venue})"
    return Notification(text="\n".join([head, *(f"• {line}" for _, line in picked)]),
                        events=[_event_json(row) for row, _ in picked], context=context)


def differences_notification(settings: Settings, venue: str, differences: list[Any], applied: bool) -> Notification:
    """What `btcbot reconcile` found (its RecoveryReport differences), applied or not."""
    kinds: dict[str, int] = {}
    for d in differences:
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    verb = "fixed with --apply" if applied else "not applied (run btcbot reconcile --apply)"
    lines = [f"• reconcile found {len(differences)} difference(s): {summary}; {verb}"]
    lines += [f"  {d.kind} {d.symbol} {d.subject}: local {d.local} / exchange {d.venue}" for d in differences[:10]]
    return Notification(text="\n".join([f"btcbot on {settings.exchange} ({venue})", *lines]),
                        events=[{"kind": "RECONCILE_DIFFERENCE", "code": d.kind, "symbol": d.symbol,
                                 "detail": {"subject": d.subject, "local": d.local, "exchange": d.venue}}
                                for d in differences],
                        context={"exchange": settings.exchange, "venue": venue, "version": __version__})


def _detail(row: sqlite3.Row) -> dict[str, str]:
    try:
        data = json.loads(row["detail"] or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _event_json(row: sqlite3.Row) -> dict[str, Any]:
    return {"kind": row["kind"], "code": row["code"], "symbol": row["symbol"],
            "client_order_id": row["client_order_id"], "cycle_id": row["cycle_id"], "ts": row["ts"],
            "detail": _detail(row)}


def _scales(symbol: str | None, rules: dict[str, SymbolRules]) -> Scales | None:
    try:
        return scales_of(symbol or "", rules.get(symbol or ""))
    except ValueError:
        return None


def _fill(row: sqlite3.Row, d: dict[str, str], store: Store, rules: dict[str, SymbolRules]) -> str:
    sc = _scales(row["symbol"], rules)
    if sc is None or not {"price", "quantity", "side"} <= d.keys():
        return f"fill {row['symbol']} {d.get('side', '')} {d.get('quantity', '')} @ {d.get('price', '')}"
    cost = abs(Decimal(d.get("fee", "0"))) + abs(Decimal(d.get("tax", "0")))
    whose = "" if d.get("ours", "True") == "True" else " (an external order's)"
    return (f"fill {row['symbol']} {d['side']} {sc.quantity_text(Decimal(d['quantity']))} @ "
            f"{sc.price_text(Decimal(d['price']), unit=True)} · fee+tax {sc.quote_text(cost)}{whose}")


def _cycle(row: sqlite3.Row, d: dict[str, str], store: Store, rules: dict[str, SymbolRules]) -> str:
    code = int(d.get("exit_code", "0"))
    before = cycle_before(store, int(row["cycle_id"])) if row["cycle_id"] is not None else None
    previous = before["exit_code"] if before is not None else None
    if code in _FAILED and previous != code:
        error = _cycle_error(store, int(row["cycle_id"])) if row["cycle_id"] is not None else ""
        return f"cycle #{row['cycle_id']} {row['code']}: exit {code}" + (f" ({error})" if error else "")
    if code == 0 and previous in _FAILED:
        return f"cycle #{row['cycle_id']} ok again (the previous cycle exited {previous})"
    return ""


def _cycle_error(store: Store, cycle_id: int) -> str:
    found = cycle_by_id(store, cycle_id)
    return str(found["summary"].get("error") or "") if found else ""


def _state(row: sqlite3.Row, d: dict[str, str], store: Store, rules: dict[str, SymbolRules]) -> str:
    return f"trading state {d.get('from', '?')} → {d.get('to', '?')}: {row['code']}"


def _breaker(row: sqlite3.Row, d: dict[str, str], store: Store, rules: dict[str, SymbolRules]) -> str:
    return f"circuit breaker {d.get('from', '?')} → {d.get('to', '?')} ({row['code']})"


def _mismatch(row: sqlite3.Row, d: dict[str, str], store: Store, rules: dict[str, SymbolRules]) -> str:
    if d.get("consecutive_cycles") != "2":  # once per episode: when it can switch trading to REDUCE_ONLY
        return ""
    return (f"balance mismatch {row['symbol']}: the ledger implies {d.get('implied')}, the exchange reports "
            f"{d.get('actual')} (2 cycles in a row)")


def _external(row: sqlite3.Row, d: dict[str, str], store: Store, rules: dict[str, SymbolRules]) -> str:
    if row["code"] != "EXTERNAL_TAGGED":  # held back while it may be ours: not a difference yet
        return ""
    return (f"external order on {row['symbol']}: {d.get('side', '')} {d.get('quantity', '')} @ {d.get('price', '')}"
            " (not placed by the bot; never cancelled by it)")


_LINES: dict[EventKind, Callable[[sqlite3.Row, dict[str, str], Store, dict[str, SymbolRules]], str]] = {
    EventKind.FILL_RECORDED: _fill, EventKind.CYCLE_FINISHED: _cycle, EventKind.TRADING_STATE_CHANGED: _state,
    EventKind.BREAKER_CHANGED: _breaker, EventKind.BALANCE_MISMATCH: _mismatch,
    EventKind.EXTERNAL_ORDER_DETECTED: _external,
}
