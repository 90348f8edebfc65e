from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.models import BookLevel, LocalOrder, OrderBook, OrderMethod, Side
from btcbot.domain.order_fsm import OrderStatus
from btcbot.domain.strategies.exits import ExitParams, decide_exit

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PARAMS = ExitParams(stop_loss_bps=Decimal("200"), take_profit_bps=Decimal("0"), position_ttl_minutes=60,
                    ladder_step_bps=Decimal("10"), max_slippage_bps=Decimal("100"))
POSITION = Position("BTCTRY", quantity=Decimal("0.001"), cost_basis=Decimal("3500"),
                    opened_at=NOW - timedelta(minutes=5))  # avg cost 3,500,000


def _book(bid: str) -> OrderBook:
    b = Decimal(bid)
    return OrderBook("BTCTRY", (BookLevel(b, Decimal(1)),), (BookLevel(b + 100, Decimal(1)),), NOW)


def _leg(price: str, kind: str = "stop_loss") -> LocalOrder:
    return LocalOrder("bb3s-x", 1, "sim", "3", "BTCTRY", Side.SELL, OrderMethod.LIMIT, Decimal(price), Decimal("0.001"),
                      Decimal(0), Decimal(0), OrderStatus.CANCELED, "h", True, False, 0, NOW, NOW, exit_kind=kind)


def test_exit_no_rule_triggered_returns_none() -> None:
    assert decide_exit(POSITION, _book("3480000"), NOW, PARAMS, []) is None


def test_exit_stop_loss_first_leg_sells_at_bid() -> None:
    decision = decide_exit(POSITION, _book("3425000"), NOW, PARAMS, [])
    assert decision is not None and decision.kind == "stop_loss"
    assert decision.price == Decimal("3425000")
    assert decision.reference == Decimal("3430000")  # avg × (1 − 2%)


def test_exit_ladder_steps_below_bid_per_leg_and_keeps_reference() -> None:
    decision = decide_exit(POSITION, _book("3425000"), NOW, PARAMS, [_leg("3425000"), _leg("3421575")])
    assert decision is not None
    assert decision.leg == 2
    assert decision.price == Decimal("3425000") * (1 - Decimal("0.002"))
    assert decision.reference == Decimal("3430000")


def test_exit_ladder_never_prices_below_slippage_floor() -> None:
    legs = [_leg("3425000")] * 20
    decision = decide_exit(POSITION, _book("3400000"), NOW, PARAMS, legs)
    assert decision is not None and decision.price == decision.floor == Decimal("3430000") * Decimal("0.99")


def test_exit_gap_beyond_cap_is_refused() -> None:
    decision = decide_exit(POSITION, _book("3300000"), NOW, PARAMS, [])
    assert decision is not None and decision.kind == "stop_loss"
    assert decision.price is None


def test_exit_ttl_triggers_after_holding_time() -> None:
    old = replace(POSITION, opened_at=NOW - timedelta(minutes=61))
    decision = decide_exit(old, _book("3490000"), NOW, PARAMS, [])
    assert decision is not None and decision.kind == "ttl" and decision.price == Decimal("3490000")


def test_exit_take_profit_triggers_above_threshold() -> None:
    params = replace(PARAMS, take_profit_bps=Decimal("100"), stop_loss_bps=Decimal("0"))
    decision = decide_exit(POSITION, _book("3535000"), NOW, params, [])
    assert decision is not None and decision.kind == "take_profit"
