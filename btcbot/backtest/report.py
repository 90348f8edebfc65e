"""The backtest report (SPEC §13), pure: equity curve + the bot's own ledger → the report's figures.

Money is in the pair's quote currency and exact (no rounding anywhere), so the identity
`end_equity − start_equity == realized_pnl + unrealized_pnl` holds exactly: cash moves by exactly each fill's
notional ± fee and tax, the ledger's cost basis is exact (accounting.py), and equity and unrealized PnL use
the same mark (the best bid). Ratios and percentages are rounded once to `RATIO_DECIMALS`.

- `orders`: orders the venue accepted; `fills`: executions; `fill_ratio`: filled / ordered base quantity.
- `turnover`: Σ price × quantity of the fills; `fees_paid`: Σ (fee + tax).
- `max_drawdown_pct`: the largest fall from a running peak of the equity curve, in percent of that peak.
- `exposure_pct`: the share of the curve's points after the start at which the bot held the base asset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from btcbot.domain.accounting import Position, drawdown_pct, next_peak, unrealized_pnl
from btcbot.domain.models import FillReport, LocalOrder
from btcbot.domain.money import ZERO, dec_str, quantize_scale
from btcbot.domain.symbols import split_symbol

__all__ = ["RATIO_DECIMALS", "EquityPoint", "ReportInputs", "build_report", "max_drawdown_pct"]

RATIO_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The account at one moment: quote cash (free + locked), base held, the mark (best bid) and equity."""

    at: datetime
    cash: Decimal
    base: Decimal
    mark: Decimal

    @property
    def equity(self) -> Decimal:
        return self.cash + self.base * self.mark


@dataclass(frozen=True, slots=True)
class ReportInputs:
    """What the run was asked to do (echoed in the report)."""

    symbol: str
    stage: str
    first: datetime  # open time of the first candle replayed
    last: datetime  # open time of the last candle replayed
    seed: int
    overrides: Mapping[str, str]
    candles: int
    cycle_seconds: int
    data_sha256: str


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ratio(numerator: Decimal, denominator: Decimal, scale: Decimal = Decimal(1)) -> str:
    if denominator == 0:
        return "0"
    return dec_str(quantize_scale(numerator * scale / denominator, RATIO_DECIMALS, ROUND_HALF_EVEN))


def max_drawdown_pct(curve: Sequence[EquityPoint]) -> Decimal:
    """The largest (peak − equity) / peak × 100 along the curve."""
    peak: Decimal | None = None
    worst = ZERO
    for point in curve:
        equity = point.equity
        peak = next_peak(peak, equity)
        worst = max(worst, drawdown_pct(equity, peak))
    return worst


def build_report(inputs: ReportInputs, curve: Sequence[EquityPoint], position: Position,
                 orders: Sequence[LocalOrder], fills: Sequence[FillReport], cycles: int) -> dict[str, object]:
    """The report as a JSON-ready dict (fixed key order; amounts as decimal strings)."""
    start, end = curve[0], curve[-1]
    unrealized = unrealized_pnl(position, end.mark) or ZERO
    placed = [o for o in orders if o.exchange_order_id is not None]
    ordered = sum((o.quantity for o in placed), ZERO)
    filled = sum((o.filled_quantity for o in placed), ZERO)
    after_start = curve[1:]
    exposed = sum(1 for p in after_start if p.base > 0)
    return {
        "symbol": inputs.symbol,
        "stage": inputs.stage,
        "from": _iso(inputs.first),
        "to": _iso(inputs.last),
        "seed": inputs.seed,
        "settings": dict(sorted(inputs.overrides.items())),
        "candles": inputs.candles,
        "cycle_seconds": inputs.cycle_seconds,
        "data_sha256": inputs.data_sha256,
        "quote": split_symbol(inputs.symbol)[1],
        "start_equity": dec_str(start.equity),
        "end_equity": dec_str(end.equity),
        "realized_pnl": dec_str(position.realized_pnl),
        "unrealized_pnl": dec_str(unrealized),
        "fees_paid": dec_str(position.fees_paid),
        "max_drawdown_pct": dec_str(quantize_scale(max_drawdown_pct(curve), RATIO_DECIMALS, ROUND_HALF_EVEN)),
        "orders": len(placed),
        "fills": len(fills),
        "fill_ratio": _ratio(filled, ordered),
        "turnover": dec_str(sum((f.price * f.quantity for f in fills), ZERO)),
        "exposure_pct": _ratio(Decimal(exposed), Decimal(len(after_start)), Decimal(100)),
        "cycles": cycles,
        "end_position": dec_str(position.quantity),
    }
