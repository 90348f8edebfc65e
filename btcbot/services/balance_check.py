"""Balance check each cycle (R-ACC-4): exchange totals vs what the fills ledger implies since a baseline.

The first check records the venue's totals as the baseline. A difference beyond the tolerance is a
BALANCE_MISMATCH event every cycle it is seen; seen in two consecutive cycles (a late fill can explain one)
it switches trading to REDUCE_ONLY when `balance_mismatch_reduce_only` is set. A mismatch on an asset whose
pair has an order of ours that the venue reports filled beyond the fills listed so far (fills are listed late)
is recorded with `fills_pending` but does not count towards the two cycles, for at most DISCREPANCY_GRACE after
that order last changed. `btcbot reconcile --apply` takes a new baseline once the cause is understood.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.balances import Mismatch, compare_balances, implied_totals
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import Balance, TradingState
from btcbot.domain.money import dec_str, to_decimal
from btcbot.domain.order_fsm import LIVE
from btcbot.domain.symbols import split_symbol
from btcbot.services.ledger import DISCREPANCY_GRACE

__all__ = ["BASELINE_KEY", "check_balances", "fills_pending", "implied_now", "managed_assets", "set_baseline"]

BASELINE_KEY = "balance_baseline"
STREAK_KEY = "balance_mismatch_streak"
IMPLIED_KEY = "balance_implied"


def managed_assets(symbols: Iterable[str]) -> set[str]:
    assets: set[str] = set()
    for symbol in symbols:
        assets.update(split_symbol(symbol))
    return assets


def set_baseline(store: Store, balances: Mapping[str, Balance], now: datetime) -> None:
    payload = {"fill_row": store.last_fill_row(), "totals": {a: dec_str(b.total) for a, b in balances.items()},
               "as_of": now.isoformat()}
    store.set_kv(BASELINE_KEY, json.dumps(payload, sort_keys=True), now)
    store.set_kv(STREAK_KEY, "0", now)


def implied_now(store: Store, now: datetime | None = None) -> dict[str, Decimal] | None:
    """The totals the baseline and every fill recorded since imply. With `now`, the running sum is kept
    (IMPLIED_KEY, tied to its baseline) so that the next check reads only the fills recorded after this one;
    sums of decimals are exact, so this always equals summing every fill since the baseline."""
    text = store.get_kv(BASELINE_KEY)
    if text is None:
        return None
    cached = json.loads(store.get_kv(IMPLIED_KEY) or "{}")
    if cached.get("baseline") != text:
        cached = {"baseline": text, **json.loads(text)}
    fills, last_row = store.fills_after(int(cached["fill_row"]))
    totals = implied_totals({a: to_decimal(v) for a, v in cached["totals"].items()}, fills)
    if fills and now is not None:
        cached.update(fill_row=last_row, totals={a: dec_str(v) for a, v in totals.items()})
        store.set_kv(IMPLIED_KEY, json.dumps(cached, sort_keys=True), now)
    return totals


def check_balances(store: Store, balances: Mapping[str, Balance] | None, symbols: Iterable[str],
                   tolerance_bps: Decimal, reduce_only: bool, now: datetime, cycle_id: int | None) -> list[Mismatch]:
    if balances is None:
        return []
    with store.db.atomic():  # the running sum, the streak, the events and a state change: one commit
        implied = implied_now(store, now)
        if implied is None:
            set_baseline(store, balances, now)
            return []
        actual = {a: b.total for a, b in balances.items()}
        mismatches = compare_balances(implied, actual, managed_assets(symbols), tolerance_bps)
        pending = fills_pending(store, now) if mismatches else set()
        previous = int(store.get_kv(STREAK_KEY) or "0")
        streak = previous + 1 if any(m.asset not in pending for m in mismatches) else previous if mismatches else 0
        if streak != previous or store.get_kv(STREAK_KEY) is None:
            store.set_kv(STREAK_KEY, str(streak), now)
        store.record([Event(EventKind.BALANCE_MISMATCH, "BALANCE_MISMATCH", m.asset, None,
                            {"implied": dec_str(m.implied), "actual": dec_str(m.actual),
                             "difference": dec_str(m.difference), "consecutive_cycles": str(streak),
                             "fills_pending": str(m.asset in pending).lower()})
                      for m in mismatches], cycle_id, now)
        if streak >= 2 and reduce_only:
            store.set_trading_state(TradingState.REDUCE_ONLY, "BALANCE_MISMATCH", cycle_id, now)
    return mismatches


def fills_pending(store: Store, now: datetime) -> set[str]:
    """Assets of pairs where an order of ours is reported filled beyond the fills recorded (not listed yet)."""
    gaps = [o for o in store.orders(LIVE, include_external=False) if o.exchange_filled > o.filled_quantity]
    gaps += [o for o in store.orders_with_fill_gap(now - DISCREPANCY_GRACE)
             if not o.external and o.exchange_filled > o.filled_quantity]
    return {asset for o in gaps for asset in split_symbol(o.symbol)}
