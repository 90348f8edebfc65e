"""Stage-4 sell-side minimum profit (R-RISK): no sell below break-even including fees, except a stop-loss exit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

import pytest
from factories import D, make_book, make_intent, make_position, make_risk_params, make_rules, make_snapshot
from hypothesis import given
from hypothesis import strategies as st

from btcbot.domain.accounting import Position
from btcbot.domain.models import Intent, Side, TradingState
from btcbot.domain.money import dec_str
from btcbot.domain.risk import LOSS_EXITS, RiskParams, break_even_sell_price, filter_intents

STAGE4 = replace(make_risk_params(), sell_above_break_even=True)
POSITIONS = {"BTCTRY": make_position(quantity="0.001", avg_cost="2000000")}
# avg cost 2,000,000 already holds the buy fees; the sell pays taker 0.24 % + 18 % VAT = 0.2832 %
BREAK_EVEN = D("2000000") / (1 - D("0.002832"))


def _sell(price: object, exit_kind: str | None = "profit") -> Intent:
    return make_intent(side=Side.SELL, price=str(price), quantity="0.001", exit_kind=exit_kind)


def _decide(intent: Intent, params: RiskParams = STAGE4,
            positions: Mapping[str, Position] = POSITIONS) -> tuple[list[str], int]:
    decision = filter_intents([intent], make_snapshot(), positions, [], {}, TradingState.NORMAL, params)
    return [d.code for d in decision.denials], len(decision.accepted)


def test_break_even_sell_price_includes_taker_fee_and_vat() -> None:
    assert break_even_sell_price(D("2000000"), "TRY") == BREAK_EVEN
    assert break_even_sell_price(D("100"), "USDT") == D("100") / (1 - D("0.0014") * D("1.18"))


def test_sell_below_break_even_dropped_with_code_and_detail() -> None:
    decision = filter_intents([_sell("2005000")], make_snapshot(), POSITIONS, [], {}, TradingState.NORMAL, STAGE4)
    assert [d.code for d in decision.denials] == ["PROFIT_BELOW_BREAK_EVEN"]
    assert decision.denials[0].detail == {"price": "2005000", "break_even": dec_str(BREAK_EVEN.quantize(D("1e-8"))),
                                          "avg_cost": "2000000", "exit_kind": "profit"}


def test_sell_at_or_above_break_even_accepted() -> None:
    assert _decide(_sell("2005681")) == ([], 1)


@pytest.mark.parametrize("kind", ["profit", "take_profit", "ttl", None])
def test_sell_below_break_even_dropped_for_every_kind_but_stop_loss(kind: str | None) -> None:
    assert _decide(_sell("1990000", kind)) == (["PROFIT_BELOW_BREAK_EVEN"], 0)


@pytest.mark.parametrize("kind", ["stop_loss", "trailing_stop"])
def test_stop_exit_below_break_even_accepted(kind: str) -> None:
    assert kind in LOSS_EXITS
    assert _decide(_sell("1900000", kind)) == ([], 1)


def test_rule_off_stage3_sell_below_break_even_accepted() -> None:
    assert _decide(_sell("1990000"), make_risk_params()) == ([], 1)


def test_sell_without_position_not_judged_by_this_rule() -> None:
    assert _decide(_sell("1990000"), STAGE4, {}) == ([], 1)


def test_usdt_pair_break_even_uses_usdt_fees() -> None:
    snapshot = make_snapshot([make_book("BTCUSDT", "100", "101"), make_book("USDTTRY", "40", "40.1")],
                             [make_rules("BTCUSDT", price_scale=2, min_notional="10"), make_rules("USDTTRY")])
    positions = {"BTCUSDT": make_position("BTCUSDT", quantity="1", avg_cost="100")}
    below = make_intent("BTCUSDT", Side.SELL, "100.16", "1", exit_kind="profit")
    above = make_intent("BTCUSDT", Side.SELL, "100.17", "1", exit_kind="profit")
    decision = filter_intents([below, above], snapshot, positions, [], {}, TradingState.NORMAL, STAGE4)
    assert [d.intent for d in decision.denials] == [below] and decision.accepted == [above]


@given(st.decimals(min_value=D("1000000"), max_value=D("3000000"), places=0))
def test_any_accepted_profit_sell_at_least_break_even(price: Decimal) -> None:
    codes, accepted = _decide(_sell(price))
    assert (accepted == 1) == (price >= BREAK_EVEN)
    assert codes == ([] if accepted else ["PROFIT_BELOW_BREAK_EVEN"])
