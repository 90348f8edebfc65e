"""Stage-4 account guards in the shell: figures from the journal, breaches (pure) → persisted trading state,
and `btcbot resume`, which refuses while a breach still holds unless forced (R-RISK, R-SAFE-2)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from btcbot.adapters.sqlite.store import Store, iso
from btcbot.config import Settings
from btcbot.domain.account import in_try
from btcbot.domain.accounting import day_bounds
from btcbot.domain.errors import ConfigError
from btcbot.domain.events import Event, EventKind
from btcbot.domain.guards import AccountFigures, Breach, GuardParams, breaches, state_for
from btcbot.domain.models import TradingState
from btcbot.domain.money import ZERO, dec_str, to_decimal
from btcbot.services.valuation import Valuation, load_marks

__all__ = ["ResumeOutcome", "account_figures", "enforce_guards", "guard_params", "resume_trading"]

LOSS_ACK_KEY = "daily_loss_ack"  # {"day": local date, "realized_try": the day's realized PnL when acknowledged}


def guard_params(settings: Settings) -> GuardParams:
    return GuardParams(settings.max_drawdown_pct, settings.daily_loss_cap_try,
                       TradingState(settings.risk_breach_state), settings.pnl_timezone)


def account_figures(store: Store, params: GuardParams, now: datetime,
                    valuation: Valuation | None = None) -> AccountFigures:
    """Equity and peak (this cycle's complete valuation, else the last persisted one when `valuation` is
    None, as `resume` needs), the day's realized PnL in TRY and its acknowledged baseline."""
    if valuation is not None:
        complete = valuation.account is not None and valuation.account.equity_complete
        equity, peak = (valuation.equity_try, valuation.peak_try) if complete else (None, None)
    else:
        equity_text, peak_text = store.get_kv("equity_try"), store.get_kv("peak_equity_try")
        equity = to_decimal(equity_text) if equity_text else None
        peak = to_decimal(peak_text) if peak_text else None
    start, end = day_bounds(now, params.pnl_timezone)
    realized = in_try(store.realized_between(start, end), valuation.marks if valuation else load_marks(store))
    ack = json.loads(store.get_kv(LOSS_ACK_KEY) or "{}")
    baseline = to_decimal(ack["realized_try"]) if ack.get("day") == _local_day(now, params) else ZERO
    return AccountFigures(equity, peak, realized, baseline)


def enforce_guards(store: Store, params: GuardParams, valuation: Valuation, now: datetime,
                   cycle_id: int | None) -> TradingState:
    """Record each breached rule (once per trading-state episode) and move the persisted trading state to the
    configured stricter state; return the state the cycle trades under."""
    state = store.trading_state()
    if not params.active:
        return state
    unpriced = valuation.account.unpriced if valuation.account is not None else ()
    if params.max_drawdown_pct > 0 and unpriced:  # equity is incomplete: the drawdown rule cannot judge
        store.record([Event(EventKind.RISK_LIMIT_UNEVALUATED, "RISK_MAX_DRAWDOWN_UNPRICED", detail={
            "unpriced": ",".join(unpriced), "hint": "trade or add each asset's TRY pair in BTCBOT_SYMBOLS"})],
            cycle_id, now, key=lambda e: f"unpriced|{store.venue}|{_local_day(now, params)}|{e.detail['unpriced']}")
    found = breaches(account_figures(store, params, now, valuation), params)
    target = state_for(state, found, params)
    if target is not None:
        store.set_trading_state(target, "; ".join(b.reason for b in found), cycle_id, now)
    if found:
        since = store.trading_state_since()[1]
        store.record([Event(EventKind.RISK_LIMIT_BREACHED, b.code, detail=dict(
            b.detail, trading_state=store.trading_state().value)) for b in found], cycle_id, now,
            key=lambda e: f"risk_breach|{store.venue}|{e.code}|{iso(since) if since else ''}")
    return store.trading_state()


@dataclass(frozen=True, slots=True)
class ResumeOutcome:
    changed: bool
    forced: bool
    breaches: tuple[Breach, ...]

    @property
    def message(self) -> str:
        verb = "set to NORMAL" if self.changed else "already NORMAL"
        if self.forced and self.breaches:
            return f"trading state {verb} (forced past: {'; '.join(b.reason for b in self.breaches)})"
        return f"trading state {verb}"


def resume_trading(store: Store, params: GuardParams, force: bool, reason: str, now: datetime) -> ResumeOutcome:
    """Back to NORMAL. Refused (ConfigError, exit 2) while a drawdown or daily-loss breach still holds, unless
    `force`: then the override is one event, and the breached rules are re-baselined in the same transaction."""
    found = tuple(breaches(account_figures(store, params, now), params))
    if found and not force:
        raise ConfigError(
            "resume refused: " + "; ".join(b.reason for b in found) + ". Investigate (btcbot status, btcbot "
            "reconcile), then `btcbot resume --force` to override (recorded), or raise BTCBOT_MAX_DRAWDOWN_PCT / "
            "BTCBOT_DAILY_LOSS_CAP_TRY")
    if not found:
        return ResumeOutcome(store.set_trading_state(TradingState.NORMAL, f"RESUME_BY_OPERATOR: {reason}", None,
                                                     now), False, ())
    figures = account_figures(store, params, now)
    with store.db.atomic():
        changed = store.set_trading_state(TradingState.NORMAL, f"RESUME_FORCED: {reason}", None, now)
        detail = {"reason": reason, "breaches": "; ".join(b.reason for b in found)}
        if any(b.code == "RISK_MAX_DRAWDOWN" for b in found) and figures.equity_try is not None:
            store.set_kv("peak_equity_try", dec_str(figures.equity_try), now)
            detail["new_peak_try"] = dec_str(figures.equity_try)
        if any(b.code == "RISK_DAILY_LOSS_CAP" for b in found):
            store.set_kv(LOSS_ACK_KEY, json.dumps({"day": _local_day(now, params),
                                                   "realized_try": dec_str(figures.realized_today_try)}), now)
            detail["loss_baseline_try"] = dec_str(figures.realized_today_try)
        store.record([Event(EventKind.RISK_LIMIT_OVERRIDDEN, "RESUME_FORCED", detail=detail)], None, now)
    return ResumeOutcome(changed, True, found)


def _local_day(now: datetime, params: GuardParams) -> str:
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(params.pnl_timezone)).date().isoformat()
