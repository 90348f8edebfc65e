"""Stage-4 account guards in the shell (R-RISK, R-SAFE-2): the journal's figures → trading state, and `resume`
with and without --force, on a real SQLite store (no exchange needed: the rules read only the journal)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from factories import D, make_fill, make_order

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.account import AccountSnapshot, Holding
from btcbot.domain.errors import ConfigError
from btcbot.domain.events import Event, EventKind
from btcbot.domain.guards import GuardParams
from btcbot.domain.models import Side, TradingState
from btcbot.domain.order_fsm import OrderStatus
from btcbot.services.guards import enforce_guards, resume_trading
from btcbot.services.valuation import Valuation

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # 12:00 in Istanbul
PARAMS = GuardParams(max_drawdown_pct=D("10"), daily_loss_cap_try=D("500"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "state", "sim")
    yield opened
    opened.close()


def _valuation(equity: str | None, peak: str | None, unpriced: tuple[str, ...] = ()) -> Valuation:
    account = None if equity is None else AccountSnapshot(
        {"TRY": Holding("TRY", D(equity), D(0), D(1))}, D(equity), unpriced, None, {})
    return Valuation({}, None if equity is None else D(equity), None if peak is None else D(peak), D(0), unpriced,
                     account)


def _persist(store: Store, equity: str, peak: str) -> None:
    store.set_kv("equity_try", equity, NOW)
    store.set_kv("peak_equity_try", peak, NOW)


def _losing_round_trip(store: Store, n: int, loss_per_btc: str = "600000", at: datetime = NOW) -> None:
    """A bot buy and sell of 0.001 BTC that lose 0.001 × `loss_per_btc` TRY (no fees), recorded as fills."""
    for side, price in ((Side.BUY, D("2000000")), (Side.SELL, D("2000000") - D(loss_per_btc))):
        exid = 5000 + 2 * n + (side is Side.SELL)
        order = make_order(f"bb4{side.value[0]}-BTCTRY-{exid}", side=side, price=price, quantity="0.001",
                           status=OrderStatus.FILLED, exchange_order_id=exid, exchange_filled="0.001",
                           created_at=at - timedelta(minutes=1), stage="4")
        store.insert_order(order, None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), at)
        store.record_fills([make_fill(f"t{exid}", side, price, "0.001", order_id=exid, at=at)], at, None)


def _codes(store: Store, kind: EventKind) -> list[str]:
    return [e["code"] for e in store.events(kind=kind)]


def test_enforce_guards_daily_loss_cap_moves_state_once(store: Store) -> None:
    _losing_round_trip(store, 1)  # −600 TRY today
    cycle = store.start_cycle("4", "dry-run", NOW)
    assert enforce_guards(store, PARAMS, _valuation("10000", "10000"), NOW, cycle) is TradingState.REDUCE_ONLY
    reason, since = store.trading_state_since()
    assert reason == "RISK_DAILY_LOSS_CAP: loss_try=600, cap_try=500, realized_today_try=-600" and since == NOW
    enforce_guards(store, PARAMS, _valuation("10000", "10000"), NOW + timedelta(minutes=1), cycle)
    assert _codes(store, EventKind.RISK_LIMIT_BREACHED) == ["RISK_DAILY_LOSS_CAP"]  # once per episode


def test_enforce_guards_yesterdays_loss_does_not_count_today(store: Store) -> None:
    _losing_round_trip(store, 1, at=NOW - timedelta(days=1))
    assert enforce_guards(store, PARAMS, _valuation("10000", "10000"), NOW, None) is TradingState.NORMAL


def test_enforce_guards_breach_state_halted_setting(store: Store) -> None:
    halted = GuardParams(D("10"), D("500"), TradingState.HALTED)
    assert enforce_guards(store, halted, _valuation("8000", "10000"), NOW, None) is TradingState.HALTED


def test_enforce_guards_never_loosens_operator_halt(store: Store) -> None:
    store.set_trading_state(TradingState.HALTED, "HALT_BY_OPERATOR: maintenance", None, NOW)
    assert enforce_guards(store, PARAMS, _valuation("8000", "10000"), NOW, None) is TradingState.HALTED
    assert store.trading_state_since()[0] == "HALT_BY_OPERATOR: maintenance"


def test_enforce_guards_incomplete_equity_recorded_as_unevaluated_once_a_day(store: Store) -> None:
    for minute in range(3):
        state = enforce_guards(store, PARAMS, _valuation("5000", "10000", ("DOGE",)), NOW + timedelta(minutes=minute),
                               None)
        assert state is TradingState.NORMAL  # a partial equity never fakes a drawdown
    assert _codes(store, EventKind.RISK_LIMIT_UNEVALUATED) == ["RISK_MAX_DRAWDOWN_UNPRICED"]


def test_enforce_guards_off_does_nothing(store: Store) -> None:
    assert enforce_guards(store, GuardParams(), _valuation("1", "10000"), NOW, None) is TradingState.NORMAL
    assert store.events(kind=EventKind.RISK_LIMIT_BREACHED) == []


def test_resume_refused_while_drawdown_holds_state_unchanged(store: Store) -> None:
    _persist(store, "8500", "10000")
    store.set_trading_state(TradingState.REDUCE_ONLY, "RISK_MAX_DRAWDOWN: drawdown_pct=15", None, NOW)
    with pytest.raises(ConfigError, match=r"resume refused: RISK_MAX_DRAWDOWN: drawdown_pct=15.*--force"):
        resume_trading(store, PARAMS, False, "looked", NOW)
    assert store.trading_state() is TradingState.REDUCE_ONLY
    assert store.events(kind=EventKind.RISK_LIMIT_OVERRIDDEN) == []


def test_resume_without_breach_returns_to_normal(store: Store) -> None:
    _persist(store, "9500", "10000")
    store.set_trading_state(TradingState.HALTED, "HALT_BY_OPERATOR: x", None, NOW)
    outcome = resume_trading(store, PARAMS, False, "done", NOW)
    assert (outcome.changed, outcome.forced, store.trading_state()) == (True, False, TradingState.NORMAL)
    assert store.trading_state_since()[0] == "RESUME_BY_OPERATOR: done"


def test_resume_force_recorded_and_drawdown_rebaselined(store: Store) -> None:
    _persist(store, "8500", "10000")
    store.set_trading_state(TradingState.REDUCE_ONLY, "RISK_MAX_DRAWDOWN", None, NOW)
    outcome = resume_trading(store, PARAMS, True, "deposit pending", NOW)
    assert outcome.changed and outcome.forced and "forced past: RISK_MAX_DRAWDOWN" in outcome.message
    assert store.trading_state() is TradingState.NORMAL
    [event] = store.events(kind=EventKind.RISK_LIMIT_OVERRIDDEN)
    assert event["code"] == "RESUME_FORCED" and '"new_peak_try": "8500"' in event["detail"]
    assert store.get_kv("peak_equity_try") == "8500"
    # the same equity no longer breaches; a further 10 % from there does
    assert enforce_guards(store, PARAMS, _valuation("8500", "8500"), NOW, None) is TradingState.NORMAL
    assert enforce_guards(store, PARAMS, _valuation("7650", "8500"), NOW, None) is TradingState.REDUCE_ONLY


def test_resume_force_daily_loss_counts_further_loss_from_acknowledged_baseline(store: Store) -> None:
    _losing_round_trip(store, 1)  # −600
    _persist(store, "10000", "10000")
    with pytest.raises(ConfigError, match="RISK_DAILY_LOSS_CAP"):
        resume_trading(store, PARAMS, False, "x", NOW)
    resume_trading(store, PARAMS, True, "one bad trade, understood", NOW)
    assert enforce_guards(store, PARAMS, _valuation("10000", "10000"), NOW, None) is TradingState.NORMAL
    _losing_round_trip(store, 2, loss_per_btc="300000")  # −300 more: within a fresh cap
    assert enforce_guards(store, PARAMS, _valuation("10000", "10000"), NOW, None) is TradingState.NORMAL
    _losing_round_trip(store, 3, loss_per_btc="300000")  # −600 since the override: breached again
    assert enforce_guards(store, PARAMS, _valuation("10000", "10000"), NOW, None) is TradingState.REDUCE_ONLY


def test_resume_force_daily_baseline_expires_with_the_day(store: Store) -> None:
    _losing_round_trip(store, 1)
    resume_trading(store, PARAMS, True, "x", NOW)
    tomorrow = NOW + timedelta(days=1)
    _losing_round_trip(store, 2, loss_per_btc="500000", at=tomorrow)  # −500 tomorrow: the cap applies afresh
    assert enforce_guards(store, PARAMS, _valuation("10000", "10000"), tomorrow, None) is TradingState.REDUCE_ONLY


def test_losing_round_trip_helper_realizes_the_loss(store: Store) -> None:
    _losing_round_trip(store, 1)
    assert store.positions()["BTCTRY"].realized_pnl == Decimal("-600")
