from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.models import BookLevel, LocalOrder, OrderBook, OrderMethod, Side
from btcbot.domain.order_fsm import OrderStatus
from btcbot.domain.strategies.exits import ExitParams, decide_exit
from btcbot.domain.strategies.trailing import Trail

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
    assert decide_exit(POSITION, _book("3480000"), NOW, PARAMS, [], None) is None


def test_exit_stop_loss_first_leg_sells_at_bid() -> None:
    decision = decide_exit(POSITION, _book("3425000"), NOW, PARAMS, [], None)
    assert decision is not None and decision.kind == "stop_loss"
    assert decision.price == Decimal("3425000")
    assert decision.reference == Decimal("3430000")  # avg × (1 − 2%)


def test_exit_ladder_steps_below_bid_per_leg_and_keeps_reference() -> None:
    decision = decide_exit(POSITION, _book("3425000"), NOW, PARAMS, [_leg("3425000"), _leg("3421575")], None)
    assert decision is not None
    assert decision.leg == 2
    assert decision.price == Decimal("3425000") * (1 - Decimal("0.002"))
    assert decision.reference == Decimal("3430000")


def test_exit_ladder_never_prices_below_slippage_floor() -> None:
    legs = [_leg("3425000")] * 20
    decision = decide_exit(POSITION, _book("3400000"), NOW, PARAMS, legs, None)
    assert decision is not None and decision.price == decision.floor == Decimal("3430000") * Decimal("0.99")


def test_exit_gap_beyond_cap_is_refused() -> None:
    decision = decide_exit(POSITION, _book("3300000"), NOW, PARAMS, [], None)
    assert decision is not None and decision.kind == "stop_loss"
    assert decision.price is None


def test_exit_ttl_triggers_after_holding_time() -> None:
    old = replace(POSITION, opened_at=NOW - timedelta(minutes=61))
    decision = decide_exit(old, _book("3490000"), NOW, PARAMS, [], None)
    assert decision is not None and decision.kind == "ttl" and decision.price == Decimal("3490000")


def test_exit_take_profit_triggers_above_threshold() -> None:
    params = replace(PARAMS, take_profit_bps=Decimal("100"), stop_loss_bps=Decimal("0"))
    decision = decide_exit(POSITION, _book("3535000"), NOW, params, [], None)
    assert decision is not None and decision.kind == "take_profit"


# -- trailing stop and precedence (issue 11) ------------------------------------------------------------
def _trail(mark: str, stop_bps: str = "150") -> Trail:
    assert POSITION.opened_at is not None
    return Trail("BTCTRY", POSITION.opened_at, Decimal(mark), Decimal(stop_bps), POSITION.opened_at, Decimal(mark))


NO_STOP = replace(PARAMS, stop_loss_bps=Decimal("0"), position_ttl_minutes=0)


def test_exit_trailing_stop_below_trigger_sells_at_bid_with_trigger_reference() -> None:
    decision = decide_exit(POSITION, _book("3640000"), NOW, NO_STOP, [], _trail("3700000"))
    assert decision is not None and decision.kind == "trailing_stop"
    assert decision.price == Decimal("3640000")
    assert decision.reference == Decimal("3644500")  # 3,700,000 × (1 − 1.5 %)
    assert decision.floor == Decimal("3644500") * Decimal("0.99")


def test_exit_trailing_stop_above_trigger_holds() -> None:
    assert decide_exit(POSITION, _book("3650000"), NOW, NO_STOP, [], _trail("3700000")) is None


def test_exit_trailing_stop_without_armed_trail_never_triggers() -> None:
    assert decide_exit(POSITION, _book("3640000"), NOW, NO_STOP, [], None) is None


def test_exit_trail_of_an_earlier_position_is_ignored() -> None:
    earlier = replace(_trail("3700000"), opened_at=NOW - timedelta(days=1))
    assert decide_exit(POSITION, _book("3640000"), NOW, NO_STOP, [], earlier) is None


def test_exit_trailing_gap_through_trigger_and_floor_is_refused() -> None:
    decision = decide_exit(POSITION, _book("3600000"), NOW, NO_STOP, [], _trail("3700000"))  # floor 3,608,055
    assert decision is not None and decision.kind == "trailing_stop" and decision.price is None


def test_exit_stop_loss_takes_precedence_over_trailing_stop() -> None:
    # both hold: bid 3,400,000 ≤ stop 3,430,000 and ≤ trigger 3,447,500
    decision = decide_exit(POSITION, _book("3400000"), NOW, PARAMS, [], _trail("3500000"))
    assert decision is not None and decision.kind == "stop_loss"


def test_exit_trailing_stop_takes_precedence_over_take_profit_and_ttl() -> None:
    old = replace(POSITION, opened_at=NOW - timedelta(minutes=61))
    trail = replace(_trail("3700000"), opened_at=NOW - timedelta(minutes=61))
    params = replace(PARAMS, take_profit_bps=Decimal("100"))  # 3,535,000; ttl 60 min also due
    decision = decide_exit(old, _book("3640000"), NOW, params, [], trail)
    assert decision is not None and decision.kind == "trailing_stop"


def test_exit_started_take_profit_keeps_its_legs_when_the_trail_triggers() -> None:
    params = replace(NO_STOP, take_profit_bps=Decimal("100"))
    decision = decide_exit(POSITION, _book("3640000"), NOW, params, [_leg("3690000", "take_profit")],
                           _trail("3700000"))
    assert decision is not None and decision.kind == "take_profit" and decision.leg == 1
    assert decision.reference == Decimal("3690000")


def test_exit_started_trailing_stop_keeps_its_legs_when_stop_loss_triggers() -> None:
    legs = [_leg("3440000", "trailing_stop")]
    decision = decide_exit(POSITION, _book("3420000"), NOW, PARAMS, legs, _trail("3500000"))
    assert decision is not None and decision.kind == "trailing_stop" and decision.leg == 1
    assert decision.reference == Decimal("3447500")
    assert decision.price == Decimal("3420000") * (1 - Decimal("0.001"))


def test_exit_started_trailing_stop_continues_after_the_bid_recovers() -> None:
    legs = [_leg("3640000", "trailing_stop")]
    decision = decide_exit(POSITION, _book("3660000"), NOW, NO_STOP, legs, _trail("3700000"))
    assert decision is not None and decision.kind == "trailing_stop" and decision.price is not None
