"""`<state dir>/metrics.prom`: the journal's vital signs in Prometheus text format for node_exporter's textfile
collector (SPEC §11), written atomically (temp file + rename, prometheus-client's `write_to_textfile`) after
every cycle command, failed ones included.

Cheap with a year of history: the last cycle rows, kv values, the positions, index seeks over the non-terminal
orders and an incremental fill count; no query scans a growing table (R-PERF).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from btcbot.adapters.sqlite.store import Store
from btcbot.adapters.sqlite.views import counted_fills, order_counts, recent_cycles
from btcbot.domain.account import in_try
from btcbot.domain.breaker import BreakerState
from btcbot.domain.models import TradingState
from btcbot.domain.money import to_decimal
from btcbot.domain.order_fsm import IN_FLIGHT, OrderStatus
from btcbot.services.valuation import load_marks

__all__ = ["METRICS_FILENAME", "ORDER_STATUSES", "MetricsSnapshot", "collect_metrics", "write_metrics"]

METRICS_FILENAME = "metrics.prom"
# Counted per status: every status except FILLED and CANCELED, whose counts only grow with history (fills are
# counted by btcbot_fills_total).
ORDER_STATUSES = tuple(s.value for s in OrderStatus if s not in (OrderStatus.FILLED, OrderStatus.CANCELED))


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    version: str
    exchange: str
    venue: str
    last_cycle_at: float  # epoch seconds; 0 = no cycle yet
    last_ok_at: float  # epoch seconds; 0 = never
    last_exit_code: int
    cycle_seconds: float
    orders: dict[str, int] = field(default_factory=dict)
    unresolved: int = 0
    fills: int = 0
    fees_try: Decimal = Decimal(0)
    realized_try: Decimal = Decimal(0)
    equity_try: Decimal | None = None
    drawdown_ratio: Decimal | None = None
    trading_state: str = TradingState.NORMAL.value
    breaker_open: bool = False


def collect_metrics(store: Store, exchange: str, version: str, now: datetime | None) -> MetricsSnapshot:
    """The figures of the metrics file from the journal (`now=None`: read-only, nothing kept for next time)."""
    last = next((c for c in recent_cycles(store, 5) if c["stage"] != "reconcile"), None)
    counts = order_counts(store, ORDER_STATUSES)
    positions = store.positions().values()
    marks = load_marks(store)
    equity, peak = _kv_decimal(store, "equity_try"), _kv_decimal(store, "peak_equity_try")
    ok_at = store.get_kv("last_cycle_ok_at")
    return MetricsSnapshot(
        version=version, exchange=exchange, venue=store.venue,
        last_cycle_at=_epoch(last["finished_at"] or last["started_at"]) if last else 0.0,
        last_ok_at=_epoch(ok_at) if ok_at else 0.0,
        last_exit_code=int(last["exit_code"]) if last and last["exit_code"] is not None else 0,
        cycle_seconds=_epoch(last["finished_at"]) - _epoch(last["started_at"]) if last and last["finished_at"]
        else 0.0,
        orders=counts, unresolved=sum(counts[s.value] for s in IN_FLIGHT), fills=counted_fills(store, now),
        fees_try=in_try({p.symbol: p.fees_paid for p in positions}, marks),
        realized_try=in_try({p.symbol: p.realized_pnl for p in positions}, marks),
        equity_try=equity,
        drawdown_ratio=(peak - equity) / peak if equity is not None and peak else None,
        trading_state=store.trading_state().value,
        breaker_open=store.breaker().state is BreakerState.OPEN,
    )


def write_metrics(path: Path, snapshot: MetricsSnapshot) -> None:
    """Write the snapshot to `path` atomically (temp file in the same dir, then rename), private (0600)."""
    from prometheus_client import CollectorRegistry, write_to_textfile

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(snapshot))
    previous = os.umask(0o077)
    try:
        write_to_textfile(str(path), registry)
    finally:
        os.umask(previous)


class _Collector:
    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self.s = snapshot

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

        s = self.s

        def gauge(name: str, doc: str, value: float | Decimal | None) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, value=math.nan if value is None else float(value))

        yield InfoMetricFamily("btcbot", "btcbot build and the venue of this state dir",
                               value={"version": s.version, "exchange": s.exchange, "venue": s.venue})
        yield gauge("btcbot_last_cycle_timestamp_seconds", "End of the last cycle (epoch seconds)", s.last_cycle_at)
        yield gauge("btcbot_last_cycle_ok_timestamp_seconds", "End of the last cycle that exited 0 (0: never)",
                    s.last_ok_at)
        yield gauge("btcbot_last_cycle_exit_code", "Exit code of the last cycle (0 ok, 1 bug, 2 config, 3 aborted)",
                    s.last_exit_code)
        yield gauge("btcbot_cycle_duration_seconds", "Wall time of the last cycle", s.cycle_seconds)
        orders = GaugeMetricFamily("btcbot_orders", "The bot's orders in each status (not FILLED/CANCELED)",
                                   labels=["status"])
        for status, n in sorted(s.orders.items()):
            orders.add_metric([status], n)
        yield orders
        yield gauge("btcbot_unresolved_orders", "Submits whose outcome is not known yet (SUBMITTING, UNKNOWN)",
                    s.unresolved)
        yield CounterMetricFamily("btcbot_fills", "Fills recorded", value=s.fills)
        yield gauge("btcbot_fees_paid_try", "Fees and VAT paid on the bot's fills, in TRY", s.fees_try)
        yield gauge("btcbot_realized_pnl_try", "Realized PnL of the bot's fills, net of fees, in TRY", s.realized_try)
        yield gauge("btcbot_equity_try", "Account equity at best bids in TRY (NaN: not valued)", s.equity_try)
        yield gauge("btcbot_drawdown_ratio", "Drawdown of equity from its peak, 0..1 (NaN: not valued)",
                    s.drawdown_ratio)
        state = GaugeMetricFamily("btcbot_trading_state", "1 for the current trading state", labels=["state"])
        for name in TradingState:
            state.add_metric([name.value], 1 if name.value == s.trading_state else 0)
        yield state
        yield gauge("btcbot_breaker_open", "1 while the circuit breaker is open (runs exit 3 at once)",
                    1 if s.breaker_open else 0)


def _kv_decimal(store: Store, key: str) -> Decimal | None:
    text = store.get_kv(key)
    return to_decimal(text) if text else None


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
