"""What `status` adds for the operator on top of the SPEC §0.4 keys (all additive): each pair's display scales,
each position's mark and value in TRY, the last cycle's error, the equity of recent cycles (the sparkline),
and derived figures rounded to at most 8 decimals (no division artefacts in JSON)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from btcbot.adapters.sqlite.store import Store
from btcbot.adapters.sqlite.views import cycle_by_id, recent_cycles
from btcbot.domain.account import in_try
from btcbot.domain.display import asset_scales, json_amount
from btcbot.domain.money import to_decimal
from btcbot.domain.symbols import SymbolRules
from btcbot.services.valuation import load_marks

__all__ = ["EQUITY_HISTORY", "add_operator_view", "all_rules"]

EQUITY_HISTORY = 120  # cycles looked at for the equity history (a wide terminal shows up to this many)
_DERIVED_POSITION = ("avg_cost", "unrealized_pnl", "trail_mark", "trail_trigger_price", "trail_activation_price")
_DERIVED_PNL = ("realized_today", "realized_total", "fees_total", "equity", "peak_equity", "drawdown_pct")
_ANY_AGE = timedelta(days=36500)  # the rules last cached, however old: display scales only


def all_rules(store: Store, now: datetime) -> dict[str, SymbolRules]:
    """The venue's cached pair rules (for display: their age does not matter)."""
    return store.cached_rules(now, _ANY_AGE) or {}


def add_operator_view(store: Store, data: dict[str, Any], timezone: str, now: datetime) -> None:
    """Extend `status` data in place (every SPEC key keeps its name; derived amounts keep ≤ 8 decimals)."""
    rules = all_rules(store, now)
    marks = load_marks(store)
    data["timezone"] = timezone
    data["scales"] = {s: {"base": r.base, "quote": r.quote, "price_scale": r.price_scale,
                          "base_scale": r.base_scale, "quote_scale": r.quote_scale} for s, r in sorted(rules.items())}
    data["asset_scales"] = asset_scales(rules.values())
    for row in data["positions"]:
        mark = marks.get(row["symbol"])
        value = in_try({row["symbol"]: to_decimal(row["quantity"]) * mark}, marks) if mark is not None else None
        row["mark"] = json_amount(mark)
        row["value_try"] = json_amount(value)
        _round(row, _DERIVED_POSITION)
    _round(data["pnl"], _DERIVED_PNL)
    cycles = recent_cycles(store, EQUITY_HISTORY)
    last = data.get("last_cycle")
    if last is not None:
        row = next((c for c in cycles if c["id"] == last["id"]), None) or cycle_by_id(store, last["id"])
        last["error"] = str(row["summary"].get("error") or "") or None if row else None
    data["equity_history"] = [{"cycle_id": c["id"], "at": c["finished_at"] or c["started_at"],
                               "equity_try": json_amount(to_decimal(c["summary"]["equity_try"]))}
                              for c in reversed(cycles) if c["summary"].get("equity_try")]


def _round(row: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if isinstance(row.get(key), str):
            row[key] = json_amount(Decimal(row[key]))
