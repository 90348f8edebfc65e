"""Stage-4 account guards (R-RISK, R-SAFE-2): drawdown from peak, daily loss cap, the state they call for."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import D

from btcbot.domain.guards import GUARDS_OFF, AccountFigures, Breach, GuardParams, breaches, state_for
from btcbot.domain.models import TradingState

T = TradingState
PARAMS = GuardParams(max_drawdown_pct=D("10"), daily_loss_cap_try=D("500"))


def _figures(equity: str | None = "10000", peak: str | None = "10000", realized: str = "0",
             baseline: str = "0") -> AccountFigures:
    return AccountFigures(None if equity is None else D(equity), None if peak is None else D(peak), D(realized),
                          D(baseline))


def _codes(found: list[Breach]) -> list[str]:
    return [b.code for b in found]


def test_breaches_none_when_within_limits() -> None:
    assert breaches(_figures("9001", "10000", "-499.99"), PARAMS) == []


def test_breaches_drawdown_at_limit_breached_with_detail() -> None:
    found = breaches(_figures("9000", "10000"), PARAMS)
    assert _codes(found) == ["RISK_MAX_DRAWDOWN"]
    assert found[0].detail == {"drawdown_pct": "10", "max_pct": "10", "equity_try": "9000", "peak_try": "10000"}
    assert found[0].reason == "RISK_MAX_DRAWDOWN: drawdown_pct=10, max_pct=10, equity_try=9000, peak_try=10000"


def test_breaches_drawdown_waits_for_a_complete_equity_figure() -> None:
    assert breaches(_figures(None, "10000"), PARAMS) == []
    assert breaches(_figures("5000", None), PARAMS) == []


def test_breaches_daily_loss_at_cap_breached() -> None:
    found = breaches(_figures(realized="-500"), PARAMS)
    assert _codes(found) == ["RISK_DAILY_LOSS_CAP"]
    assert found[0].detail == {"loss_try": "500", "cap_try": "500", "realized_today_try": "-500"}


def test_breaches_daily_loss_counted_from_acknowledged_baseline() -> None:
    assert breaches(_figures(realized="-700", baseline="-600"), PARAMS) == []  # 100 more since the override
    again = breaches(_figures(realized="-1100", baseline="-600"), PARAMS)  # a further full cap
    assert _codes(again) == ["RISK_DAILY_LOSS_CAP"] and again[0].detail["baseline_try"] == "-600"


def test_breaches_profit_day_never_a_loss() -> None:
    assert breaches(_figures(realized="1000"), PARAMS) == []


def test_breaches_both_rules_reported() -> None:
    assert _codes(breaches(_figures("8000", "10000", "-600"), PARAMS)) == ["RISK_MAX_DRAWDOWN", "RISK_DAILY_LOSS_CAP"]


def test_breaches_rules_off_at_zero() -> None:
    assert not GUARDS_OFF.active
    assert breaches(_figures("1", "10000", "-1000000"), GUARDS_OFF) == []


@pytest.mark.parametrize(("current", "configured", "expected"), [
    (T.NORMAL, T.REDUCE_ONLY, T.REDUCE_ONLY),
    (T.NORMAL, T.HALTED, T.HALTED),
    (T.REDUCE_ONLY, T.HALTED, T.HALTED),
    (T.REDUCE_ONLY, T.REDUCE_ONLY, None),  # already there: no change, no event
    (T.HALTED, T.REDUCE_ONLY, None),  # never loosened
    (T.HALTED, T.HALTED, None),
])
def test_state_for_breach_moves_only_to_a_stricter_state(current: TradingState, configured: TradingState,
                                                        expected: TradingState | None) -> None:
    params = GuardParams(D("10"), D("500"), configured)
    assert state_for(current, [Breach("RISK_MAX_DRAWDOWN")], params) is expected


def test_state_for_no_breach_no_change() -> None:
    assert state_for(T.NORMAL, [], PARAMS) is None


def test_guard_figures_are_decimal() -> None:
    figures = _figures("9000", "10000")
    assert all(isinstance(v, Decimal) for v in (figures.equity_try, figures.peak_try, figures.realized_today_try))
