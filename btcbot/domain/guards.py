"""Stage-4 account guards (R-RISK, R-SAFE-2; LESSONS 22). Pure.

- RISK_MAX_DRAWDOWN: equity at mark has fallen `max_drawdown_pct` % or more below the peak equity.
- RISK_DAILY_LOSS_CAP: the bot's realized PnL of the local day (PNL_TIMEZONE) is a loss of
  `daily_loss_cap_try` or more (measured from the day's acknowledged baseline after a forced resume).

A breach moves the persisted trading state to `breach_state` (REDUCE_ONLY or HALTED), never to a looser
one, and never back: `btcbot resume` does that, refusing while a breach still holds unless forced. A forced
resume re-baselines what it acknowledges (the drawdown peak becomes the current equity, the day's loss is
counted from its current realized PnL), so the same loss does not trip the rule again at once while a
further loss of the same size still does. Each rule is off at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from btcbot.domain.accounting import drawdown_pct
from btcbot.domain.models import TradingState
from btcbot.domain.money import ZERO, dec_str

__all__ = ["GUARDS_OFF", "STRICTNESS", "AccountFigures", "Breach", "GuardParams", "breaches", "state_for"]

STRICTNESS = {TradingState.NORMAL: 0, TradingState.REDUCE_ONLY: 1, TradingState.HALTED: 2}
_SHOWN = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class GuardParams:
    max_drawdown_pct: Decimal = ZERO  # 0 = off
    daily_loss_cap_try: Decimal = ZERO  # 0 = off
    breach_state: TradingState = TradingState.REDUCE_ONLY
    pnl_timezone: str = "Europe/Istanbul"

    @property
    def active(self) -> bool:
        return self.max_drawdown_pct > 0 or self.daily_loss_cap_try > 0


GUARDS_OFF = GuardParams()


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """What the rules look at, in TRY. `equity_try` is None when this cycle could not value the whole account
    (balances unavailable, or an asset without a mark): the drawdown rule then waits for a complete figure."""

    equity_try: Decimal | None
    peak_try: Decimal | None
    realized_today_try: Decimal
    loss_baseline_try: Decimal = ZERO  # the day's realized PnL acknowledged by a forced resume


@dataclass(frozen=True, slots=True)
class Breach:
    code: str
    detail: dict[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return f"{self.code}: " + ", ".join(f"{k}={v}" for k, v in self.detail.items())


def breaches(figures: AccountFigures, params: GuardParams) -> list[Breach]:
    """The rules that are breached now (empty when none, or when they are off)."""
    found: list[Breach] = []
    equity, peak = figures.equity_try, figures.peak_try
    if params.max_drawdown_pct > 0 and equity is not None and peak is not None and peak > 0:
        drawdown = drawdown_pct(equity, peak)
        if drawdown >= params.max_drawdown_pct:
            found.append(Breach("RISK_MAX_DRAWDOWN", {
                "drawdown_pct": dec_str(drawdown.quantize(_SHOWN)), "max_pct": dec_str(params.max_drawdown_pct),
                "equity_try": dec_str(equity.quantize(_SHOWN)), "peak_try": dec_str(peak.quantize(_SHOWN))}))
    loss = figures.loss_baseline_try - figures.realized_today_try
    if params.daily_loss_cap_try > 0 and loss >= params.daily_loss_cap_try:
        detail = {"loss_try": dec_str(loss.quantize(_SHOWN)), "cap_try": dec_str(params.daily_loss_cap_try),
                  "realized_today_try": dec_str(figures.realized_today_try.quantize(_SHOWN))}
        if figures.loss_baseline_try:
            detail["baseline_try"] = dec_str(figures.loss_baseline_try.quantize(_SHOWN))
        found.append(Breach("RISK_DAILY_LOSS_CAP", detail))
    return found


def state_for(current: TradingState, found: Sequence[Breach], params: GuardParams) -> TradingState | None:
    """The trading state the breaches call for, or None when there is none or the current one is as strict."""
    if not found or STRICTNESS[params.breach_state] <= STRICTNESS[current]:
        return None
    return params.breach_state
