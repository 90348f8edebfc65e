"""`btcbot status`: a read-only view straight from SQLite (SPEC §0.4). No network, no keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from btcbot.adapters.lock import lock_held
from btcbot.adapters.sqlite.store import Store, iso
from btcbot.config import Settings
from btcbot.domain.account import in_try
from btcbot.domain.accounting import day_bounds, drawdown_pct, unrealized_pnl
from btcbot.domain.guards import breaches
from btcbot.domain.models import LocalOrder
from btcbot.domain.money import dec_str, to_decimal
from btcbot.domain.order_fsm import IN_FLIGHT, LIVE
from btcbot.domain.replace_fsm import ReplaceChain
from btcbot.services.breaker import breaker_json
from btcbot.services.guards import account_figures, guard_params
from btcbot.services.mode import select_mode
from btcbot.services.status_view import add_operator_view
from btcbot.services.trailing import trail_params, trail_view
from btcbot.services.valuation import load_marks
from btcbot.services.venue import check_exchange

__all__ = ["collect_status"]


def collect_status(settings: Settings, fills: int = 0, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    mode = select_mode(settings)
    store = Store.open_existing(settings.state_dir, mode.venue)  # read-only: creates nothing (SPEC §0.1)
    try:
        check_exchange(store, settings.exchange, settings.state_dir, None, record=False)
        return _collect(store, settings, mode.label, mode.live, fills, now)
    finally:
        store.close()


def _order_json(o: LocalOrder) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id,
        "exchange_order_id": str(o.exchange_order_id) if o.exchange_order_id is not None else None,
        "symbol": o.symbol, "side": o.side.value, "price": dec_str(o.price), "quantity": dec_str(o.quantity),
        "filled_quantity": dec_str(o.filled_quantity), "status": o.status.value, "created_at": iso(o.created_at),
        "dry_run": o.dry_run, "external": o.external,
    }


def _collect(store: Store, settings: Settings, label: str, live: bool, fills: int, now: datetime) -> dict[str, Any]:
    marks = load_marks(store)
    positions = store.positions()
    trails, trailing = store.trails(), trail_params(settings)
    pos_rows = []
    for symbol, p in positions.items():
        unreal = unrealized_pnl(p, marks.get(symbol))
        pos_rows.append({"symbol": symbol, "quantity": dec_str(p.quantity), "avg_cost": dec_str(p.avg_cost),
                         "realized_pnl": dec_str(p.realized_pnl), "fees_paid": dec_str(p.fees_paid),
                         "unrealized_pnl": dec_str(unreal) if unreal is not None else None,
                         **trail_view(p, trails.get(symbol), trailing)})
    balances, as_of = store.latest_balances()
    start, end = day_bounds(now, settings.pnl_timezone)
    equity_text, peak_text = store.get_kv("equity_try"), store.get_kv("peak_equity_try")
    equity = to_decimal(equity_text) if equity_text else None
    peak = to_decimal(peak_text) if peak_text else None
    row = store.last_cycle()
    counts = store.counts()  # rows in the journal now, kept by triggers: no table is counted (R-PERF)
    state_reason, state_since = store.trading_state_since()
    data: dict[str, Any] = {
        "mode": {"exchange": settings.exchange, "venue": store.venue, "dry_run": not live,
                 "kill_switch": settings.kill_switch, "live_armed": live and label == "live",
                 "trading_state": store.trading_state().value, "label": label,
                 "trading_state_reason": state_reason,
                 "trading_state_since": iso(state_since) if state_since else None},
        "last_cycle": None if row is None else {
            "id": row["id"], "stage": row["stage"], "started_at": row["started_at"],
            "finished_at": row["finished_at"], "outcome": row["outcome"], "exit_code": row["exit_code"]},
        "last_cycle_ok_at": store.get_kv("last_cycle_ok_at"),
        "open_orders": [_order_json(o) for o in store.orders(LIVE)],
        "unresolved_orders": [_order_json(o) for o in store.orders(IN_FLIGHT)],
        "positions": pos_rows,
        "balances": [{"asset": b.asset, "free": dec_str(b.free), "locked": dec_str(b.locked),
                      "total": dec_str(b.total), "as_of": iso(as_of) if as_of else None} for b in balances],
        "pnl": {"currency": "TRY",
                "realized_today": dec_str(in_try(store.realized_between(start, end), marks)),
                "realized_total": dec_str(in_try({s: p.realized_pnl for s, p in positions.items()}, marks)),
                "fees_total": dec_str(in_try({s: p.fees_paid for s, p in positions.items()}, marks)),
                "equity": dec_str(equity) if equity is not None else None,
                "peak_equity": dec_str(peak) if peak is not None else None,
                "drawdown_pct": dec_str(drawdown_pct(equity, peak)) if equity is not None and peak else "0"},
        "circuit_breaker": breaker_json(store.breaker()),
        "locks": {"instance_lock_held": _lock_held(settings), "rate_limit_blocks": {
            k: iso(v) for k, v in store.load_blocks().items() if v > now}},
        "counts": counts,
        "risk": _risk(store, settings, now),
        "replace_chains": [_chain_json(c) for c in store.chains(limit=10)],
    }
    add_operator_view(store, data, settings.pnl_timezone, now)
    if fills:
        data["fills"] = [{"trade_id": f.trade_id, "symbol": f.symbol, "side": f.side.value,
                          "price": dec_str(f.price), "quantity": dec_str(f.quantity), "fee": dec_str(f.fee),
                          "tax": dec_str(f.tax), "timestamp": iso(f.timestamp),
                          "client_order_id": f.client_order_id} for f in store.fills(limit=fills)]
    return data


def _risk(store: Store, settings: Settings, now: datetime) -> dict[str, Any]:
    """The stage-4 account guards as the journal sees them now (what `resume` would check)."""
    params = guard_params(settings)
    figures = account_figures(store, params, now)
    marks = load_marks(store)
    unpriced = [b.asset for b in store.latest_balances()[0]
                if b.total and b.asset != "TRY" and f"{b.asset}TRY" not in marks]
    return {"max_drawdown_pct": dec_str(params.max_drawdown_pct), "unpriced_assets": unpriced,
            "daily_loss_cap_try": dec_str(params.daily_loss_cap_try), "breach_state": params.breach_state.value,
            "loss_baseline_try": dec_str(figures.loss_baseline_try),
            "breaches": [{"code": b.code, "reason": b.reason} for b in breaches(figures, params)]}


def _chain_json(c: ReplaceChain) -> dict[str, Any]:
    return {"id": c.id, "root": c.root_client_order_id, "seq": c.seq, "symbol": c.symbol, "side": c.side.value,
            "old_client_order_id": c.old_client_order_id, "new_client_order_id": c.new_client_order_id,
            "state": c.state.value, "trigger": c.trigger, "planned_price": dec_str(c.planned_price),
            "planned_quantity": dec_str(c.planned_quantity), "created_at": iso(c.created_at),
            "updated_at": iso(c.updated_at)}


def _lock_held(settings: Settings) -> bool:
    return lock_held(settings.state_dir)  # never creates the lock file (status is read-only)
