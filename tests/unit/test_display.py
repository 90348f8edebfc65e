"""How amounts are shown (domain/display.py): rounded to the asset, never more JSON decimals than the venue's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from factories import make_rules
from hypothesis import given
from hypothesis import strategies as st

from btcbot.domain.display import (
    JSON_SCALE,
    SPARK,
    age,
    amount,
    asset_scales,
    json_amount,
    money,
    scales_of,
    sparkline,
)
from btcbot.domain.models import Side

decimals = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False,
                       places=30)


def test_amount_rounds_half_even_groups_thousands_and_never_shows_minus_zero() -> None:
    assert amount(Decimal("3574527.373696987"), 0) == "3,574,527"
    assert amount(Decimal("0.125"), 2) == "0.12"
    assert amount(Decimal("-0.001"), 2) == "0.00"
    assert amount(Decimal("1.5"), 2, sign=True) == "+1.50"
    assert amount(Decimal("0.00007000"), 8, strip=True) == "0.00007"
    assert amount(Decimal("2000"), 2, strip=True) == "2,000"


def test_money_is_two_decimals_with_its_currency() -> None:
    assert money(Decimal("105628.06377321")) == "105,628.06 TRY"
    assert money(Decimal("-3.5"), sign=True) == "-3.50 TRY"


def test_pair_scales_come_from_the_rules_and_place_like_preflight() -> None:
    rules = make_rules("BTCTRY")
    sc = scales_of("BTCTRY", rules)
    assert (sc.base, sc.quote, sc.price, sc.quantity) == ("BTC", "TRY", rules.price_scale, rules.base_scale)
    raw_qty = Decimal("250") / Decimal("3498600.5")  # a strategy's division: 48 digits
    price, qty = sc.place(Decimal("3498600.5"), raw_qty, Side.BUY, rules)
    assert (price, qty) == (rules.quantize_price(Decimal("3498600.5"), Side.BUY), rules.quantize_quantity(raw_qty))
    assert sc.quantity_text(qty) == f"{amount(qty, rules.base_scale, strip=True)} BTC"
    assert sc.quote_text(Decimal("0.3549")) == "0.35 TRY"


def test_pair_without_rules_uses_fiat_and_eight_decimal_defaults() -> None:
    sc = scales_of("ETHUSDT", None)
    assert (sc.base, sc.quote, sc.price, sc.quantity, sc.quote_amount) == ("ETH", "USDT", 2, 8, 2)
    assert asset_scales([make_rules("BTCTRY")])["TRY"] == 2


@given(decimals)
def test_json_amount_has_at_most_eight_decimals_and_keeps_shorter_values_exact(value: Decimal) -> None:
    text = json_amount(value)
    assert text is not None and "E" not in text
    decimals_shown = len(text.split(".")[1]) if "." in text else 0
    assert decimals_shown <= JSON_SCALE
    if value == value.quantize(Decimal("1e-8")):
        assert Decimal(text) == value
    else:
        assert abs(Decimal(text) - value) <= Decimal("0.5e-8")


def test_sparkline_scales_between_min_and_max() -> None:
    assert sparkline([Decimal(1), Decimal(2), Decimal(3)]) == SPARK[0] + SPARK[4] + SPARK[-1]
    assert sparkline([Decimal(5)] * 3) == SPARK[3] * 3
    assert sparkline([]) == ""


def test_age_is_short() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert [age(now - timedelta(seconds=s), now) for s in (5, 125, 3 * 3600 + 300, 2 * 86400 + 3600)] == [
        "5s", "2m", "3h05", "2d01"]
