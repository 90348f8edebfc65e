"""Risk filter (R-RISK, R-SAFE-2/3; LESSONS 21, 22): every drop carries a CATEGORY_CONDITION code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from factories import (
    T0,
    D,
    make_balances,
    make_book,
    make_intent,
    make_order,
    make_position,
    make_risk_params,
    make_rules,
    make_snapshot,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from btcbot.domain.accounting import Position
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Intent, LocalOrder, Side, TradingState
from btcbot.domain.order_fsm import OrderStatus
from btcbot.domain.risk import RiskDecision, RiskParams, filter_intents

HEADROOM = D("0.002832")
BUY = make_intent(side=Side.BUY, price="2000000", quantity="0.0001")  # 200 TRY
SELL = make_intent(side=Side.SELL, price="2010000", quantity="0.0001")


def _filter(
    intents: Sequence[Intent],
    *,
    snapshot: MarketSnapshot | None = None,
    positions: Mapping[str, Position] | None = None,
    open_orders: Sequence[LocalOrder] = (),
    last_fill_at: Mapping[str, datetime] | None = None,
    state: TradingState = TradingState.NORMAL,
    params: RiskParams | None = None,
) -> RiskDecision:
    return filter_intents(
        intents,
        snapshot or make_snapshot(),
        positions or {},
        open_orders,
        last_fill_at or {},
        state,
        params or make_risk_params(),
    )


def _codes(decision: RiskDecision) -> list[str]:
    return [d.code for d in decision.denials]


def _two_symbol_snapshot(**free: str) -> MarketSnapshot:
    books = [make_book("BTCTRY"), make_book("ETHTRY", "100000", "100100")]
    return make_snapshot(books, balances=make_balances(**(free or {"TRY": "100000"})))


# -- trading state -------------------------------------------------------------------------------------------


def test_filter_intents_normal_state_buy_and_sell_accepted() -> None:
    decision = _filter([BUY, SELL])
    assert decision.accepted == [BUY, SELL]
    assert decision.denials == []


def test_filter_intents_halted_drops_buys_and_sells_state_halted() -> None:
    decision = _filter([BUY, SELL], state=TradingState.HALTED)
    assert decision.accepted == []
    assert _codes(decision) == ["STATE_HALTED", "STATE_HALTED"]
    assert decision.denials[0].reason == "STATE_HALTED: trading_state=HALTED"


def test_filter_intents_reduce_only_drops_buy_allows_sell() -> None:
    decision = _filter([BUY, SELL], state=TradingState.REDUCE_ONLY)
    assert decision.accepted == [SELL]
    assert _codes(decision) == ["STATE_REDUCE_ONLY"]
    assert decision.denials[0].intent is BUY
    assert decision.denials[0].detail == {"side": "buy"}


# -- balances unavailable (R-SAFE-3) ---------------------------------------------------------------------------


def test_filter_intents_balances_unreadable_buy_dropped_sell_kept() -> None:
    decision = _filter([BUY, SELL], snapshot=make_snapshot(no_balances=True))
    assert decision.accepted == [SELL]
    assert _codes(decision) == ["BALANCE_UNAVAILABLE"]


# -- open orders -----------------------------------------------------------------------------------------------


def test_filter_intents_max_open_orders_reached_dropped_orders_max_open() -> None:
    orders = [make_order(f"o{i}", symbol="ETHTRY", side=Side.BUY, price="100000") for i in range(2)]
    decision = _filter([BUY], open_orders=orders, params=make_risk_params(max_open_orders=2))
    assert _codes(decision) == ["ORDERS_MAX_OPEN"]
    assert decision.denials[0].detail == {"open": "2", "max": "2"}


def test_filter_intents_max_open_counts_accepted_intents_of_this_cycle() -> None:
    eth = make_intent("ETHTRY", Side.BUY, "100000", "0.002")
    decision = _filter([BUY, eth], snapshot=_two_symbol_snapshot(), params=make_risk_params(max_open_orders=1))
    assert decision.accepted == [BUY]
    assert _codes(decision) == ["ORDERS_MAX_OPEN"]


def test_filter_intents_max_open_per_symbol_reached_dropped() -> None:
    orders = [make_order("o1", side=Side.SELL, price="2100000")]
    decision = _filter([BUY], open_orders=orders, params=make_risk_params(max_open_orders_per_symbol=1))
    assert _codes(decision) == ["ORDERS_MAX_OPEN_SYMBOL"]
    assert decision.denials[0].detail == {"symbol": "BTCTRY", "open": "1", "max": "1"}


def test_filter_intents_sell_not_blocked_by_open_order_limits() -> None:
    orders = [make_order("o1", symbol="ETHTRY", price="100000")]
    decision = _filter([SELL], open_orders=orders, params=make_risk_params(max_open_orders=1))
    assert decision.accepted == [SELL]  # a protective exit is never refused for a cap


def test_filter_intents_invalid_price_dropped_before_planning() -> None:
    bad = make_intent("BTCTRY", Side.BUY, "0", "0.001")
    assert _codes(_filter([bad])) == ["INTENT_INVALID"]


def test_filter_intents_accepted_buy_carries_bump_cap_within_all_caps() -> None:
    params = make_risk_params(max_order_notional_try=1000, max_cycle_notional_try=260)
    decision = _filter([BUY], params=params)
    assert len(decision.accepted) == 1
    cap = Decimal(decision.accepted[0].meta["max_notional"])
    assert BUY.notional <= cap <= Decimal(260)


# -- replacement gets the old order's slot and funds ------------------------------------------------------


def test_filter_intents_replacement_same_symbol_side_reuses_slot() -> None:
    live = make_order("old", side=Side.BUY, price="1990000", quantity="0.0001")
    params = make_risk_params(max_open_orders=1, max_open_orders_per_symbol=1)
    decision = _filter([BUY], open_orders=[live], params=params)
    assert decision.accepted == [BUY]


def test_filter_intents_other_side_live_order_does_not_free_slot() -> None:
    live = make_order("old", side=Side.SELL, price="2100000", quantity="0.0001")
    params = make_risk_params(max_open_orders=1, max_open_orders_per_symbol=1)
    assert _codes(_filter([BUY], open_orders=[live], params=params)) == ["ORDERS_MAX_OPEN"]


def test_filter_intents_replacement_counts_locked_funds_of_replaced_order() -> None:
    # all TRY is locked in the old buy (0.0001 @ 2,010,000 = 201 TRY); free TRY is 0
    live = make_order("old", side=Side.BUY, price="2010000", quantity="0.0001")
    snapshot = make_snapshot(balances=make_balances(TRY="0"))
    decision = _filter([BUY], snapshot=snapshot, open_orders=[live])
    assert decision.accepted == [BUY]


def test_filter_intents_replacement_counts_only_unfilled_remainder() -> None:
    live = make_order("old", side=Side.BUY, price="2010000", quantity="0.0001", filled_quantity="0.00005",
                      status=OrderStatus.PARTIALLY_FILLED)
    snapshot = make_snapshot(balances=make_balances(TRY="0"))
    decision = _filter([BUY], snapshot=snapshot, open_orders=[live])
    assert _codes(decision) == ["CASH_INSUFFICIENT"]
    assert decision.denials[0].detail["investable"] == "100.5"


def test_filter_intents_no_replaced_order_same_funds_cash_insufficient() -> None:
    snapshot = make_snapshot(balances=make_balances(TRY="0"))
    decision = _filter([BUY], snapshot=snapshot)
    assert _codes(decision) == ["CASH_INSUFFICIENT"]


# -- cooldown ---------------------------------------------------------------------------------------------------


def test_filter_intents_recent_fill_buy_dropped_cooldown_active() -> None:
    decision = _filter([BUY], last_fill_at={"BTCTRY": T0 - timedelta(seconds=59)},
                       params=make_risk_params(cooldown_seconds=60))
    assert _codes(decision) == ["COOLDOWN_ACTIVE"]
    assert decision.denials[0].detail["cooldown_seconds"] == "60"


def test_filter_intents_cooldown_elapsed_buy_accepted() -> None:
    decision = _filter([BUY], last_fill_at={"BTCTRY": T0 - timedelta(seconds=60)},
                       params=make_risk_params(cooldown_seconds=60))
    assert decision.accepted == [BUY]


def test_filter_intents_cooldown_other_symbol_or_sell_not_affected() -> None:
    params = make_risk_params(cooldown_seconds=60)
    assert _filter([BUY], last_fill_at={"ETHTRY": T0}, params=params).accepted == [BUY]
    assert _filter([SELL], last_fill_at={"BTCTRY": T0}, params=params).accepted == [SELL]


# -- notional caps ---------------------------------------------------------------------------------------------------


def test_filter_intents_order_above_cap_dropped_notional_order_cap() -> None:
    decision = _filter([BUY], params=make_risk_params(max_order_notional_try="199.99"))
    assert _codes(decision) == ["NOTIONAL_ORDER_CAP"]
    assert decision.denials[0].detail == {"notional_try": "200", "max": "199.99"}


def test_filter_intents_order_at_cap_accepted() -> None:
    assert _filter([BUY], params=make_risk_params(max_order_notional_try="200")).accepted == [BUY]


def test_filter_intents_sell_above_order_cap_accepted() -> None:
    big_sell = make_intent(side=Side.SELL, price="2000000", quantity="1")
    assert _filter([big_sell], params=make_risk_params(max_order_notional_try="100")).accepted == [big_sell]


def test_filter_intents_cycle_cap_second_buy_dropped_notional_cycle_cap() -> None:
    eth = make_intent("ETHTRY", Side.BUY, "100000", "0.002")  # 200 TRY
    decision = _filter([BUY, eth], snapshot=_two_symbol_snapshot(),
                       params=make_risk_params(max_cycle_notional_try="399"))
    assert decision.accepted == [BUY]
    assert _codes(decision) == ["NOTIONAL_CYCLE_CAP"]
    assert decision.denials[0].detail == {"spent_try": "200", "notional_try": "200", "max": "399"}


def test_filter_intents_cycle_cap_not_spent_by_dropped_intents() -> None:
    big = make_intent(price="2000000", quantity="0.01")  # 20,000 TRY: dropped by the order cap
    eth = make_intent("ETHTRY", Side.BUY, "100000", "0.002")
    decision = _filter([big, eth], snapshot=_two_symbol_snapshot(),
                       params=make_risk_params(max_cycle_notional_try="200"))
    assert decision.accepted == [eth]
    assert _codes(decision) == ["NOTIONAL_ORDER_CAP"]


def test_filter_intents_position_plus_order_above_cap_dropped_position_notional_cap() -> None:
    positions = {"BTCTRY": make_position(quantity="0.0009", avg_cost="1900000")}  # 1800 TRY at 2,000,000
    decision = _filter([BUY], positions=positions, params=make_risk_params(max_position_notional_try="1999"))
    assert _codes(decision) == ["POSITION_NOTIONAL_CAP"]
    assert decision.denials[0].detail["position_try"] == "1800"


def test_filter_intents_position_plus_order_at_cap_accepted() -> None:
    positions = {"BTCTRY": make_position(quantity="0.0009")}
    assert _filter([BUY], positions=positions,
                   params=make_risk_params(max_position_notional_try="2000")).accepted == [BUY]


# -- cash --------------------------------------------------------------------------------------------------


def test_filter_intents_cash_target_reserved_dropped_cash_insufficient() -> None:
    snapshot = make_snapshot(balances=make_balances(TRY="1000"))
    decision = _filter([BUY], snapshot=snapshot, params=make_risk_params(cash_target_try="800"))
    assert _codes(decision) == ["CASH_INSUFFICIENT"]
    assert decision.denials[0].detail == {"needed": "200.5664", "investable": "200", "asset": "TRY"}


def test_filter_intents_cash_covers_notional_and_fee_headroom_accepted() -> None:
    snapshot = make_snapshot(balances=make_balances(TRY="1000.5664"))
    decision = _filter([BUY], snapshot=snapshot, params=make_risk_params(cash_target_try="800"))
    assert decision.accepted == [BUY]


def test_filter_intents_cash_spent_by_earlier_intent_in_same_cycle() -> None:
    eth = make_intent("ETHTRY", Side.BUY, "100000", "0.002")
    decision = _filter([BUY, eth], snapshot=_two_symbol_snapshot(TRY="300"))
    assert decision.accepted == [BUY]
    assert _codes(decision) == ["CASH_INSUFFICIENT"]


def test_filter_intents_sell_needs_no_cash() -> None:
    snapshot = make_snapshot(balances=make_balances(TRY="0"))
    assert _filter([SELL], snapshot=snapshot).accepted == [SELL]


# -- USDT pairs -------------------------------------------------------------------------------------------------


def _usdt_snapshot(usdt: str = "1000", with_usdttry: bool = True) -> MarketSnapshot:
    books = [make_book("BTCUSDT", "60000", "60010")]
    if with_usdttry:
        books.append(make_book("USDTTRY", "40", "42"))  # mid 41
    rules = [make_rules("BTCUSDT", min_notional="10"), make_rules("USDTTRY", base_scale=2, price_scale=2)]
    return make_snapshot(books, rules, balances=make_balances(USDT=usdt, TRY="0"))


def test_filter_intents_usdt_pair_caps_compared_in_try() -> None:
    intent = make_intent("BTCUSDT", Side.BUY, "60000", "0.0001")  # 6 USDT = 246 TRY
    assert _filter([intent], snapshot=_usdt_snapshot(), params=make_risk_params(
        max_order_notional_try="246")).accepted == [intent]
    decision = _filter([intent], snapshot=_usdt_snapshot(), params=make_risk_params(max_order_notional_try="245"))
    assert _codes(decision) == ["NOTIONAL_ORDER_CAP"]
    assert decision.denials[0].detail["notional_try"] == "246"


def test_filter_intents_usdt_pair_cash_checked_in_usdt() -> None:
    intent = make_intent("BTCUSDT", Side.BUY, "60000", "0.0001")
    decision = _filter([intent], snapshot=_usdt_snapshot(usdt="6"))
    assert _codes(decision) == ["CASH_INSUFFICIENT"]
    assert decision.denials[0].detail["asset"] == "USDT"


def test_filter_intents_usdt_pair_without_usdttry_book_dropped_no_conversion() -> None:
    intent = make_intent("BTCUSDT", Side.BUY, "60000", "0.0001")
    assert _codes(_filter([intent], snapshot=_usdt_snapshot(with_usdttry=False))) == ["PRICE_NO_CONVERSION"]


# -- properties -------------------------------------------------------------------------------------------------


amounts = st.decimals(min_value=D("0.0001"), max_value=D("0.01"), places=4)


@given(st.lists(st.tuples(st.sampled_from(["BTCTRY", "ETHTRY"]), st.sampled_from(list(Side)), amounts),
                max_size=6),
       st.sampled_from(list(TradingState)), st.decimals(min_value=D(0), max_value=D(5000), places=2))
@settings(max_examples=200, deadline=None)
def test_filter_intents_any_batch_partitioned_and_within_caps(
    specs: list[tuple[str, Side, Decimal]], state: TradingState, free_try: Decimal
) -> None:
    prices = {"BTCTRY": D(2000000), "ETHTRY": D(100000)}
    intents = [make_intent(symbol, side, prices[symbol], qty * (1 if symbol == "BTCTRY" else 20))
               for symbol, side, qty in specs]
    params = make_risk_params(max_order_notional_try="5000", max_cycle_notional_try="8000")
    decision = _filter(intents, snapshot=_two_symbol_snapshot(TRY=str(free_try)), state=state, params=params)
    assert len(decision.accepted) + len(decision.denials) == len(intents)
    assert all(d.code.split("_")[0] in {"STATE", "ORDERS", "COOLDOWN", "NOTIONAL", "POSITION", "CASH",
                                        "BALANCE", "PRICE"} for d in decision.denials)
    buys = [i for i in decision.accepted if i.side is Side.BUY]
    assert sum((i.notional for i in buys), D(0)) <= D(8000)
    assert sum((i.notional * (1 + HEADROOM) for i in buys), D(0)) <= free_try
    if state is TradingState.HALTED:
        assert decision.accepted == []
    if state is TradingState.REDUCE_ONLY:
        assert not buys
