"""Lifecycle planner (R-LIFE, R-EXEC-2, R-EXEC-7; LESSONS 1, 6): intents vs our orders."""

from __future__ import annotations

from decimal import Decimal

from factories import T0, D, make_intent, make_order, make_plan_params
from hypothesis import given, settings
from hypothesis import strategies as st

from btcbot.domain.models import LocalOrder, Side
from btcbot.domain.order_fsm import IN_FLIGHT, LIVE, OrderStatus
from btcbot.domain.planner import Plan, plan

S = OrderStatus
PARAMS = make_plan_params(stale_order_seconds=600, stale_price_bps="20")
BUY = make_intent(side=Side.BUY, price="2000000", quantity="0.0001")
SELL = make_intent(side=Side.SELL, price="2100000", quantity="0.0001")


def _order(cid: str = "o1", **kwargs: object) -> LocalOrder:
    return make_order(cid, **kwargs)  # type: ignore[arg-type]


def _codes(result: Plan) -> list[str]:
    return [d.code for d in result.blocked]


def _cancel_codes(result: Plan) -> list[tuple[str, str]]:
    return [(c.order.client_order_id, c.code) for c in result.cancels]


def test_plan_new_intents_without_orders_submitted() -> None:
    result = plan([BUY, SELL], [], T0, PARAMS)
    assert result.submits == [BUY, SELL]
    assert result.cancels == [] and result.keeps == [] and result.blocked == []


def test_plan_nothing_wanted_nothing_open_empty() -> None:
    result = plan([], [], T0, PARAMS)
    assert (result.cancels, result.submits, result.keeps, result.blocked) == ([], [], [], [])


# -- in-flight ------------------------------------------------------------------------------------------------


def test_plan_in_flight_order_blocks_submit_dedupe_in_flight() -> None:
    for status in (S.SUBMITTING, S.UNKNOWN):
        result = plan([BUY], [_order("inflight", status=status, exchange_order_id=None)], T0, PARAMS)
        assert result.submits == []
        assert _codes(result) == ["DEDUPE_IN_FLIGHT"]
        assert result.blocked[0].detail == {"client_order_id": "inflight"}


def test_plan_in_flight_order_other_side_does_not_block() -> None:
    result = plan([SELL], [_order("inflight", side=Side.BUY, status=S.UNKNOWN)], T0, PARAMS)
    assert result.submits == [SELL]


def test_plan_in_flight_order_without_intent_left_alone() -> None:
    result = plan([], [_order("inflight", status=S.UNKNOWN, age_seconds=10_000)], T0, PARAMS)
    assert (result.cancels, result.keeps, result.blocked) == ([], [], [])


def test_plan_in_flight_with_live_order_same_side_neither_cancelled_nor_submitted() -> None:
    orders = [_order("live", price="1900000", age_seconds=10), _order("inflight", status=S.SUBMITTING)]
    result = plan([BUY], orders, T0, PARAMS)
    assert result.cancels == [] and result.submits == []
    assert _codes(result) == ["DEDUPE_IN_FLIGHT"]


# -- keep / replace -----------------------------------------------------------------------------------------


def test_plan_matching_open_order_kept_dedupe_order_open() -> None:
    live = _order("live", price="2000000", age_seconds=60)
    result = plan([BUY], [live], T0, PARAMS)
    assert result.keeps == [live]
    assert result.submits == [] and result.cancels == []
    assert _codes(result) == ["DEDUPE_ORDER_OPEN"]
    assert result.blocked[0].detail == {"client_order_id": "live"}


def test_plan_price_within_tolerance_kept() -> None:
    live = _order("live", price="2003999", age_seconds=60)  # 19.995 bps away
    assert plan([BUY], [live], T0, PARAMS).keeps == [live]


def test_plan_price_moved_cancelled_and_replacement_awaits_cancel() -> None:
    live = _order("live", price="2004100", age_seconds=60)  # 20.5 bps away
    result = plan([BUY], [live], T0, PARAMS)
    assert _cancel_codes(result) == [("live", "REPLACE_PRICE_MOVED")]
    assert result.cancels[0].detail == {"order_price": "2004100", "intent_price": "2000000",
                                        "distance_bps": "20.5"}
    assert result.submits == []  # R-EXEC-7: never the replacement in the same plan as the cancel
    assert _codes(result) == ["REPLACE_AWAITING_CANCEL"]
    assert result.blocked[0].detail == {"client_order_id": "live"}


def test_plan_buy_size_change_alone_kept() -> None:
    live = _order("live", price="2000000", quantity="0.0002", age_seconds=60)
    assert plan([BUY], [live], T0, PARAMS).keeps == [live]


def test_plan_sell_quantity_changed_cancelled_replace_quantity_changed() -> None:
    live = _order("live", side=Side.SELL, price="2100000", quantity="0.0002", age_seconds=60)
    result = plan([SELL], [live], T0, PARAMS)
    assert _cancel_codes(result) == [("live", "REPLACE_QUANTITY_CHANGED")]
    assert result.submits == []
    assert _codes(result) == ["REPLACE_AWAITING_CANCEL"]


def test_plan_sell_partially_filled_remaining_matches_position_kept() -> None:
    live = _order("live", side=Side.SELL, price="2100000", quantity="0.0003", filled_quantity="0.0002",
                  status=S.PARTIALLY_FILLED, age_seconds=60)
    assert plan([SELL], [live], T0, PARAMS).keeps == [live]


def test_plan_stale_by_age_cancelled_even_when_matching() -> None:
    live = _order("live", price="2000000", age_seconds=601)
    result = plan([BUY], [live], T0, PARAMS)
    assert _cancel_codes(result) == [("live", "CANCEL_STALE_AGE")]
    assert result.cancels[0].detail == {"age_seconds": "601"}
    assert result.submits == []
    assert _codes(result) == ["REPLACE_AWAITING_CANCEL"]


def test_plan_exactly_max_age_kept() -> None:
    live = _order("live", price="2000000", age_seconds=600)
    assert plan([BUY], [live], T0, PARAMS).keeps == [live]


def test_plan_live_order_without_intent_kept_until_stale() -> None:
    young, old = _order("young", age_seconds=10), _order("old", side=Side.SELL, age_seconds=601)
    result = plan([], [young, old], T0, PARAMS)
    assert result.keeps == [young]
    assert _cancel_codes(result) == [("old", "CANCEL_STALE_AGE")]
    assert result.blocked == []


def test_plan_duplicate_live_orders_one_side_newest_kept_extra_cancelled() -> None:
    newer = _order("newer", price="2000000", age_seconds=10)
    older = _order("older", price="2000000", age_seconds=100)
    result = plan([BUY], [older, newer], T0, PARAMS)
    assert result.keeps == [newer]
    assert _cancel_codes(result) == [("older", "CANCEL_DUPLICATE_SIDE")]
    assert result.cancels[0].detail == {"kept": "newer"}
    assert _codes(result) == ["DEDUPE_ORDER_OPEN"]
    assert result.submits == []


def test_plan_duplicate_live_orders_without_intent_extra_cancelled() -> None:
    orders = [_order(f"o{i}", age_seconds=10 * (i + 1)) for i in range(3)]
    result = plan([], orders, T0, PARAMS)
    assert [o.client_order_id for o in result.keeps] == ["o0"]
    assert sorted(_cancel_codes(result)) == [("o1", "CANCEL_DUPLICATE_SIDE"), ("o2", "CANCEL_DUPLICATE_SIDE")]


# -- cancel requested ------------------------------------------------------------------------------------------


def test_plan_cancel_requested_blocks_replacement_until_terminal() -> None:
    pending = _order("pending", status=S.CANCEL_REQUESTED, price="1900000", age_seconds=5)
    result = plan([BUY], [pending], T0, PARAMS)
    assert result.submits == [] and result.cancels == []  # a fresh cancel is not re-sent, nothing new goes out
    assert _codes(result) == ["REPLACE_AWAITING_CANCEL"]
    assert result.blocked[0].detail == {"client_order_id": "pending"}


def test_plan_cancel_requested_without_intent_recent_no_action() -> None:
    result = plan([], [_order("pending", status=S.CANCEL_REQUESTED, age_seconds=5)], T0, PARAMS)
    assert (result.cancels, result.submits, result.keeps, result.blocked) == ([], [], [], [])


def test_plan_cancel_requested_unconfirmed_too_long_is_resent_never_replaced() -> None:
    pending = _order("pending", status=S.CANCEL_REQUESTED, price="1900000", age_seconds=700)
    result = plan([BUY], [pending], T0, PARAMS)
    assert [(c.order.client_order_id, c.code) for c in result.cancels] == [("pending", "CANCEL_RETRY")]
    assert result.submits == []  # the replacement still waits for the terminal status
    assert _codes(result) == ["REPLACE_AWAITING_CANCEL"]


def test_plan_cancel_requested_on_other_side_does_not_block() -> None:
    result = plan([SELL], [_order("pending", side=Side.BUY, status=S.CANCEL_REQUESTED)], T0, PARAMS)
    assert result.submits == [SELL]


def test_plan_cancel_requested_plus_matching_live_keeps_live() -> None:
    pending = _order("pending", status=S.CANCEL_REQUESTED, price="1900000")
    live = _order("live", price="2000000", age_seconds=5)
    result = plan([BUY], [pending, live], T0, PARAMS)
    assert result.keeps == [live]
    assert _codes(result) == ["DEDUPE_ORDER_OPEN"]


def test_plan_symbols_independent() -> None:
    eth_buy = make_intent("ETHTRY", Side.BUY, "100000", "0.002")
    moved = _order("btc", price="2100000", age_seconds=5)
    result = plan([BUY, eth_buy], [moved], T0, PARAMS)
    assert result.submits == [eth_buy]
    assert _cancel_codes(result) == [("btc", "REPLACE_PRICE_MOVED")]


# -- properties -------------------------------------------------------------------------------------------------


NON_TERMINAL = sorted(IN_FLIGHT | LIVE)
order_specs = st.tuples(
    st.sampled_from(["BTCTRY", "ETHTRY"]),
    st.sampled_from(list(Side)),
    st.sampled_from(NON_TERMINAL),
    st.decimals(min_value=D(1900000), max_value=D(2100000), places=0),
    st.integers(min_value=0, max_value=1200),
)
intent_specs = st.tuples(
    st.sampled_from(["BTCTRY", "ETHTRY"]),
    st.sampled_from(list(Side)),
    st.decimals(min_value=D(1900000), max_value=D(2100000), places=0),
)


@given(st.lists(order_specs, max_size=8), st.lists(intent_specs, max_size=4, unique_by=lambda s: (s[0], s[1])))
@settings(max_examples=300, deadline=None)
def test_plan_any_input_never_submits_and_cancels_same_key(
    order_list: list[tuple[str, Side, OrderStatus, Decimal, int]], intent_list: list[tuple[str, Side, Decimal]]
) -> None:
    orders = [make_order(f"o{n}", symbol=sym, side=side, status=status, price=price, age_seconds=age)
              for n, (sym, side, status, price, age) in enumerate(order_list)]
    intents = [make_intent(sym, side, price, "0.0001") for sym, side, price in intent_list]
    result = plan(intents, orders, T0, PARAMS)

    cancelled_keys = {(c.order.symbol, c.order.side) for c in result.cancels}
    submitted_keys = {(i.symbol, i.side) for i in result.submits}
    occupied_keys = {(o.symbol, o.side) for o in orders}
    assert not (cancelled_keys & submitted_keys)  # R-EXEC-7
    assert not (submitted_keys & occupied_keys)  # never two orders on one side
    # every intent is either submitted or blocked, exactly once
    assert sorted(id(i) for i in result.submits + [d.intent for d in result.blocked]) == sorted(map(id, intents))
    # cancels and keeps only touch OPEN/PARTIALLY_FILLED orders, each at most once, at most one keep per key
    touched = [c.order.client_order_id for c in result.cancels] + [o.client_order_id for o in result.keeps]
    assert len(touched) == len(set(touched))
    assert all(o.status in (S.OPEN, S.PARTIALLY_FILLED) for o in result.keeps)
    assert all(c.order.status in (S.OPEN, S.PARTIALLY_FILLED) or (
        c.order.status is S.CANCEL_REQUESTED and c.code == "CANCEL_RETRY") for c in result.cancels)
    keep_keys = [(o.symbol, o.side) for o in result.keeps]
    assert len(keep_keys) == len(set(keep_keys))
    # keys with an in-flight order are left untouched
    in_flight_keys = {(o.symbol, o.side) for o in orders if o.status in IN_FLIGHT}
    assert not (in_flight_keys & (cancelled_keys | set(keep_keys)))
