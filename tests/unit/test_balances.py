from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from factories import make_fill

from btcbot.domain.balances import compare_balances, implied_totals
from btcbot.domain.models import FillReport, Side

T = datetime(2026, 11, 21, tzinfo=UTC)


def _fill(side: Side, qty: str, price: str, fee: str, tax: str) -> FillReport:
    return make_fill("1", side, price, qty, fee, tax, at=T)


def test_implied_totals_buy_adds_base_and_takes_notional_fee_and_tax() -> None:
    totals = implied_totals({"TRY": Decimal("1000")}, [_fill(Side.BUY, "0.0001", "3500000", "0.84", "0.1512")])
    assert totals == {"TRY": Decimal("1000") - Decimal("350") - Decimal("0.9912"), "BTC": Decimal("0.0001")}


def test_implied_totals_sell_takes_base_and_adds_notional_minus_fee_and_tax() -> None:
    totals = implied_totals({"TRY": Decimal("0"), "BTC": Decimal("0.0001")},
                            [_fill(Side.SELL, "0.0001", "3600000", "0.432", "0.07776")])
    assert totals == {"TRY": Decimal("360") - Decimal("0.50976"), "BTC": Decimal("0")}


def test_compare_balances_within_tolerance_is_clean_beyond_is_mismatch() -> None:
    implied = {"TRY": Decimal("1000"), "BTC": Decimal("0.5")}
    assert compare_balances(implied, {"TRY": Decimal("1000.05"), "BTC": Decimal("0.5")}, ["TRY", "BTC"],
                            Decimal("10")) == []
    mismatches = compare_balances(implied, {"TRY": Decimal("1100"), "BTC": Decimal("0.5")}, ["TRY", "BTC"],
                                  Decimal("10"))
    assert [(m.asset, m.difference) for m in mismatches] == [("TRY", Decimal("100"))]


def test_compare_balances_unmanaged_assets_are_ignored() -> None:
    assert compare_balances({}, {"DOGE": Decimal("5")}, ["TRY"], Decimal("10")) == []
