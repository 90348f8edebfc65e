"""Accounting core (R-ACC; LESSONS 9-11, 16, 28): examples plus incremental-vs-replay properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from factories import T0, make_fill
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from btcbot.domain.accounting import (
    AppliedFill,
    InvalidFill,
    Ledger,
    LedgerError,
    Position,
    apply_fill,
    daily_realized,
    day_bounds,
    drawdown_pct,
    equity,
    fill_discrepancy,
    filled_from_fills,
    ingest,
    next_peak,
    rebuild_symbol,
    replay,
    replay_ledger,
    unrealized_pnl,
)
from btcbot.domain.models import FillReport, Side
from btcbot.domain.money import FloatRejected

D = Decimal


def fold(fills: list[FillReport], symbol: str = "BTCTRY") -> Position:
    position = Position(symbol=symbol)
    for fill in fills:
        position, _ = apply_fill(position, fill)
    return position


# ---------------------------------------------------------------------------------------------------------
# apply_fill examples
# ---------------------------------------------------------------------------------------------------------


def test_apply_fill_partial_buys_weighted_average_cost() -> None:
    first, e1 = apply_fill(Position("BTCTRY"), make_fill("1", Side.BUY, "100", "1", "0.1", "0.018"))
    second, e2 = apply_fill(first, make_fill("2", Side.BUY, "130", "2", "0.2", "0.036", at=1))
    assert first.quantity == D("1") and first.cost_basis == D("100.118")  # updated on the first partial
    assert second.quantity == D("3")
    assert second.cost_basis == D("360.354")  # 100 + 260 + all fees and tax
    assert second.avg_cost == D("120.118")
    assert second.fees_paid == D("0.354")
    assert second.realized_pnl == 0
    assert e1.realized_pnl == 0 and e2.realized_pnl == 0
    assert e2.quantity_delta == D("2") and e2.cost_basis_delta == D("260.236")
    assert second.opened_at == T0 and second.last_fill_at == T0 + timedelta(seconds=1)


def test_apply_fill_btcturk_negative_fee_and_tax_normalised_reduces_position_and_counts_vat() -> None:
    # users/transactions/trade reports a sell with negative amount, fee and tax (LESSONS 28);
    # the adapter hands accounting magnitudes plus the side.
    wire = {"price": "2000000", "amount": "-0.001", "fee": "-4.8", "tax": "-0.864", "orderType": "sell"}
    buy = make_fill("10", Side.BUY, "1900000", "0.002", "4.56", "0.8208")
    sell = make_fill(
        "11",
        Side(wire["orderType"]),
        wire["price"],
        abs(D(wire["amount"])),
        abs(D(wire["fee"])),
        abs(D(wire["tax"])),
        at=60,
    )
    position, effect = apply_fill(fold([buy]), sell)
    assert position.quantity == D("0.001")  # the sell shrank the position
    assert position.fees_paid == D("4.56") + D("0.8208") + D("4.8") + D("0.864")
    # released cost = half of (3800 + 5.3808); proceeds 2000 − 5.664 (fee + 18% VAT)
    assert effect.cost_basis_delta == -D("1902.6904")
    assert effect.realized_pnl == D("2000") - D("5.664") - D("1902.6904")
    assert position.avg_cost == D("1902690.4")  # unchanged by a sell


def test_apply_fill_negative_fee_not_normalised_raises_invalid_fill() -> None:
    with pytest.raises(InvalidFill):
        apply_fill(Position("BTCTRY"), make_fill("1", Side.SELL, "100", "1", "-0.1", "-0.018"))


def test_apply_fill_negative_quantity_raises_invalid_fill() -> None:
    with pytest.raises(InvalidFill):
        apply_fill(Position("BTCTRY"), make_fill("1", Side.SELL, "100", "-1"))


def test_apply_fill_multi_leg_exit_sums_fees_of_all_legs() -> None:
    fills = [
        make_fill("1", Side.BUY, "100", "3", "0.36", "0.0648"),
        make_fill("2", Side.SELL, "110", "1", "0.132", "0.02376", at=1),
        make_fill("3", Side.SELL, "109", "1", "0.1308", "0.023544", at=2),
        make_fill("4", Side.SELL, "108", "1", "0.1296", "0.023328", at=3),
    ]
    position = fold(fills)
    all_fees = sum((f.fee + f.tax for f in fills), D(0))
    assert position.quantity == 0 and position.cost_basis == 0
    assert position.fees_paid == all_fees
    assert position.realized_pnl == D("110") + D("109") + D("108") - D("300") - all_fees


def test_apply_fill_sell_closing_position_leaves_no_dust_cost() -> None:
    fills = [make_fill("1", Side.BUY, "10", "3", "0.01", "0")]
    fills += [make_fill(str(i), Side.SELL, "10", "1", at=i) for i in (2, 3, 4)]
    position = fold(fills)
    assert position.quantity == 0
    assert position.cost_basis == 0
    assert position.opened_at is None
    assert position.realized_pnl == D("-0.01")


def test_apply_fill_partial_sell_releases_cost_rounded_half_even_at_18_decimals() -> None:
    exact = fold([make_fill("1", Side.BUY, "2", "3"), make_fill("2", Side.SELL, "5", "1", at=1)])
    assert exact.cost_basis == D("4") and exact.realized_pnl == D("3")  # 6 × 1/3 = 2 released exactly
    position = fold([make_fill("1", Side.BUY, "1", "3", "1"), make_fill("2", Side.SELL, "1", "1", at=1)])
    assert position.cost_basis == D("4") - D("1.333333333333333333")
    assert position.avg_cost == D("1.333333333333333334")  # 2.666…667 / 2, rounded half-even
    assert position.realized_pnl == D("1") - D("1.333333333333333333")


def test_apply_fill_sell_more_than_held_clamps_quantity_and_flags_oversold() -> None:
    position, effect = apply_fill(
        fold([make_fill("1", Side.BUY, "100", "1", "1")]),
        make_fill("2", Side.SELL, "120", "1.5", "0.5", "0.09", at=1),
    )
    assert position.quantity == 0 and position.cost_basis == 0
    assert effect.oversold and effect.oversold_quantity == D("0.5")
    assert effect.quantity_delta == D("-1")
    assert effect.realized_pnl == D("120") - D("0.59") - D("101")  # only the held unit is sold for PnL
    assert position.fees_paid == D("1.59")


def test_apply_fill_sell_when_flat_keeps_quantity_zero_and_books_fees() -> None:
    position, effect = apply_fill(Position("BTCTRY"), make_fill("1", Side.SELL, "100", "1", "0.2", "0.036"))
    assert position.quantity == 0
    assert effect.oversold_quantity == D("1")
    assert effect.realized_pnl == D("-0.236")


@pytest.mark.parametrize("field", ["price", "quantity", "fee", "tax"])
def test_apply_fill_float_money_field_raises_float_rejected(field: str) -> None:
    as_float: dict[str, Any] = {field: 0.1}
    fill = replace(make_fill("1", Side.BUY, "100", "1", "0.1", "0.018"), **as_float)
    with pytest.raises(FloatRejected):
        apply_fill(Position("BTCTRY"), fill)


def test_replay_float_based_fill_raises_float_rejected() -> None:
    float_price: Any = 100.5
    bad = replace(make_fill("2", Side.BUY, "100", "1"), price=float_price)
    with pytest.raises(FloatRejected):
        replay([make_fill("1", Side.BUY, "100", "1"), bad])


def test_unrealized_pnl_float_mark_raises_float_rejected() -> None:
    position = fold([make_fill("1", Side.BUY, "100", "1")])
    mark: Any = 101.0
    with pytest.raises(FloatRejected):
        unrealized_pnl(position, mark)


def test_apply_fill_fee_in_base_asset_raises_invalid_fill() -> None:
    with pytest.raises(InvalidFill):
        apply_fill(Position("BTCTRY"), make_fill("1", Side.BUY, "100", "1", "0.001", fee_asset="BTC"))


def test_apply_fill_naive_timestamp_raises_invalid_fill() -> None:
    with pytest.raises(InvalidFill):
        apply_fill(Position("BTCTRY"), make_fill("1", Side.BUY, "100", "1", at=datetime(2024, 1, 1)))


def test_apply_fill_other_symbol_raises_ledger_error() -> None:
    with pytest.raises(LedgerError):
        apply_fill(Position("ETHTRY"), make_fill("1", Side.BUY, "100", "1"))


def test_position_avg_cost_flat_is_zero() -> None:
    assert Position("BTCTRY").avg_cost == 0


# ---------------------------------------------------------------------------------------------------------
# replay / ingest / rebuild examples
# ---------------------------------------------------------------------------------------------------------


def test_replay_duplicate_trade_id_first_occurrence_wins() -> None:
    first = make_fill("1", Side.BUY, "100", "1")
    conflicting = make_fill("1", Side.BUY, "999", "5")
    positions = replay([first, conflicting, first])
    assert positions["BTCTRY"].quantity == D("1")
    assert positions["BTCTRY"].cost_basis == D("100")


def test_replay_unsorted_input_applies_in_timestamp_then_numeric_trade_id_order() -> None:
    buy = make_fill("9", Side.BUY, "100", "1", at=0)
    sell_a = make_fill("10", Side.SELL, "150", "1", at=5)  # numeric id 10 > 9 despite "10" < "9"
    buy_b = make_fill("11", Side.BUY, "200", "1", at=5)
    positions = replay([buy_b, sell_a, buy])
    assert positions["BTCTRY"].realized_pnl == D("50")  # sold the 100-cost unit, then bought at 200
    assert positions["BTCTRY"].cost_basis == D("200")


def test_ingest_duplicate_trade_id_applied_once_and_reported() -> None:
    fill = make_fill("1", Side.BUY, "100", "1")
    first = ingest(Ledger(), [fill, fill])
    second = ingest(first.ledger, [fill])
    assert [a.fill.trade_id for a in first.applied] == ["1"]
    assert first.duplicates == ["1"] and second.duplicates == ["1"]
    assert second.applied == [] and second.ledger.positions == first.ledger.positions


def test_ingest_late_fill_marks_symbol_for_replay_and_leaves_it_untouched() -> None:
    ledger = ingest(Ledger(), [make_fill("2", Side.BUY, "100", "1", at=10)]).ledger
    other = make_fill("5", Side.BUY, "10", "1", symbol="ETHTRY", at=1)
    late = make_fill("1", Side.BUY, "50", "1", at=5)
    result = ingest(ledger, [late, other])
    assert result.needs_replay == {"BTCTRY"}
    assert result.ledger.position("BTCTRY") == ledger.position("BTCTRY")
    assert not result.ledger.has_seen("1")
    assert [a.fill.trade_id for a in result.applied] == ["5"]  # other symbols proceed


def test_rebuild_symbol_after_late_fill_equals_replay() -> None:
    stored = [make_fill("2", Side.BUY, "100", "1", at=10), make_fill("3", Side.SELL, "120", "1", at=20)]
    ledger = ingest(Ledger(), stored).ledger
    late = make_fill("1", Side.BUY, "50", "1", at=5)
    result = ingest(ledger, [late])
    rebuilt, effects = rebuild_symbol(result.ledger, "BTCTRY", [*stored, late])
    assert dict(rebuilt.positions) == replay([*stored, late])
    assert [e.fill.trade_id for e in effects] == ["1", "2", "3"]
    assert effects[-1].effect.realized_pnl == D("120") - D("75")  # avg cost changed by the late buy


def test_rebuild_symbol_history_missing_applied_trade_id_raises_ledger_error() -> None:
    ledger = ingest(Ledger(), [make_fill("1", Side.BUY, "100", "1"), make_fill("2", Side.BUY, "1", "1")])
    with pytest.raises(LedgerError):
        rebuild_symbol(ledger.ledger, "BTCTRY", [make_fill("1", Side.BUY, "100", "1")])


def test_rebuild_symbol_fill_of_other_symbol_raises_ledger_error() -> None:
    with pytest.raises(LedgerError):
        rebuild_symbol(Ledger(), "BTCTRY", [make_fill("1", Side.BUY, "1", "1", symbol="ETHTRY")])


def test_ingest_malformed_fill_in_batch_applies_nothing() -> None:
    good = make_fill("1", Side.BUY, "100", "1")
    bad = make_fill("2", Side.BUY, "100", "1", "-1")
    with pytest.raises(InvalidFill):
        ingest(Ledger(), [good, bad])


def test_replay_ledger_returns_effects_in_application_order() -> None:
    fills = [make_fill("2", Side.SELL, "110", "1", at=2), make_fill("1", Side.BUY, "100", "1", at=1)]
    ledger, applied = replay_ledger(fills)
    assert [a.fill.trade_id for a in applied] == ["1", "2"]
    assert ledger.seen_trade_ids == {"1", "2"}


# ---------------------------------------------------------------------------------------------------------
# Valuation and cross-checks
# ---------------------------------------------------------------------------------------------------------


def test_unrealized_pnl_no_mark_returns_none() -> None:
    position = fold([make_fill("1", Side.BUY, "100", "2", "1")])
    assert unrealized_pnl(position, None) is None
    assert unrealized_pnl(position, D("110")) == D("220") - D("201")


def test_unrealized_pnl_flat_position_is_zero_without_mark() -> None:
    assert unrealized_pnl(Position("BTCTRY"), None) == 0


def test_equity_missing_mark_for_open_position_returns_none() -> None:
    btc = fold([make_fill("1", Side.BUY, "100", "2")])
    eth = Position("ETHTRY")
    assert equity(D("1000"), [btc, eth], {"BTCTRY": D("90")}) == D("1180")
    assert equity(D("1000"), [btc, eth], {"BTCTRY": None}) is None
    assert equity(D("1000"), [eth], {}) == D("1000")


def test_drawdown_pct_below_peak_returns_percent() -> None:
    assert drawdown_pct(D("900"), D("1000")) == D("10")
    assert drawdown_pct(D("1000"), D("3000")) == D("66.666666666666666667")
    assert drawdown_pct(D("1100"), D("1000")) == 0
    assert drawdown_pct(D("1100"), None) == 0


def test_next_peak_tracks_maximum() -> None:
    assert next_peak(None, D("5")) == D("5")
    assert next_peak(D("7"), D("5")) == D("7")
    assert next_peak(D("7"), D("8")) == D("8")


def test_day_bounds_istanbul_after_local_midnight_starts_at_21_utc() -> None:
    start, end = day_bounds(datetime(2024, 3, 10, 21, 30, tzinfo=UTC))
    assert start == datetime(2024, 3, 10, 21, 0, tzinfo=UTC)
    assert end == datetime(2024, 3, 11, 21, 0, tzinfo=UTC)
    start2, _ = day_bounds(datetime(2024, 3, 10, 20, 59, tzinfo=UTC))
    assert start2 == datetime(2024, 3, 9, 21, 0, tzinfo=UTC)
    assert day_bounds(datetime(2024, 3, 10, 23, 0, tzinfo=UTC), "UTC")[0] == datetime(2024, 3, 10, tzinfo=UTC)


def test_day_bounds_naive_now_raises_invalid_fill() -> None:
    with pytest.raises(InvalidFill):
        day_bounds(datetime(2024, 3, 10, 12, 0))


def test_daily_realized_start_inclusive_end_exclusive() -> None:
    start, end = day_bounds(datetime(2024, 3, 10, 12, 0, tzinfo=UTC))
    fills = [
        make_fill("1", Side.BUY, "100", "3", at=start - timedelta(hours=1)),
        make_fill("2", Side.SELL, "110", "1", at=start - timedelta(seconds=1)),  # yesterday: +10
        make_fill("3", Side.SELL, "120", "1", at=start),  # today: +20
        make_fill("4", Side.SELL, "130", "1", "1", at=end),  # tomorrow: +29
    ]
    _, applied = replay_ledger(fills)
    assert daily_realized(applied, start, end) == D("20")
    assert daily_realized([a.effect for a in applied], start, end + timedelta(seconds=1)) == D("49")


def test_filled_from_fills_duplicates_counted_once() -> None:
    fills = [make_fill("1", Side.BUY, "1", "0.4"), make_fill("2", Side.BUY, "1", "0.6", at=1)]
    assert filled_from_fills([*fills, fills[0]]) == D("1.0")
    assert filled_from_fills([]) == 0


def test_filled_from_fills_mixed_orders_raises_ledger_error() -> None:
    with pytest.raises(LedgerError):
        filled_from_fills(
            [make_fill("1", Side.BUY, "1", "1"), make_fill("2", Side.BUY, "1", "1", order_id=2)]
        )


def test_fill_discrepancy_matching_amounts_returns_none() -> None:
    assert fill_discrepancy(D("0.6"), D("1"), D("0.4")) is None
    assert fill_discrepancy(D("0.5"), D("1"), D("0.4")) == D("-0.1")  # a fill not yet published
    assert fill_discrepancy(D("0.7"), D("1"), D("0.4")) == D("0.1")
    assert fill_discrepancy(D("0.5"), D("1"), D("0.4"), tolerance=D("0.1")) is None


# ---------------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------------

SYMBOLS = ("BTCTRY", "ETHTRY")
prices = st.integers(1, 10**7).map(lambda n: D(n).scaleb(-2))
quantities = st.integers(1, 10**6).map(lambda n: D(n).scaleb(-6))
fees = st.integers(0, 10**5).map(lambda n: D(n).scaleb(-4))


@st.composite
def fill_lists(draw: st.DrawFn, max_size: int = 25) -> list[FillReport]:
    ids = draw(st.lists(st.integers(1, 10**19), unique=True, max_size=max_size))
    fills = []
    for tid in ids:
        fills.append(
            make_fill(
                str(tid),
                draw(st.sampled_from(Side)),
                draw(prices),
                draw(quantities),
                draw(fees),
                draw(fees),
                symbol=draw(st.sampled_from(SYMBOLS)),
                at=draw(st.integers(0, 20)),  # few distinct times: ties are ordered by trade id
            )
        )
    return fills


def _total_fees(fills: list[FillReport], symbol: str) -> Decimal:
    return sum((f.fee + f.tax for f in fills if f.symbol == symbol), D(0))


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(fills=fill_lists(), data=st.data())
def test_ingest_any_batches_duplicates_and_order_equals_replay(
    fills: list[FillReport], data: st.DataObject
) -> None:
    # every fill at least once, some again, in any order, cut into any batches
    extra = data.draw(st.lists(st.sampled_from(fills), max_size=10)) if fills else []
    stream = data.draw(st.permutations([*fills, *extra]))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    batches = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]

    store: dict[str, FillReport] = {}
    ledger = Ledger()
    for batch in batches:
        expected_dups = []
        batch_ids: set[str] = set()
        for fill in batch:
            if fill.trade_id in store or fill.trade_id in batch_ids:
                expected_dups.append(fill.trade_id)
            batch_ids.add(fill.trade_id)
        for fill in batch:  # the service stores fills (unique by trade id) before ingesting them
            store.setdefault(fill.trade_id, fill)
        result = ingest(ledger, batch)
        assert result.duplicates == expected_dups
        ledger = result.ledger
        for symbol in sorted(result.needs_replay):
            history = [f for f in store.values() if f.symbol == symbol]
            ledger, _ = rebuild_symbol(ledger, symbol, history)
        assert dict(ledger.positions) == replay(store.values())
        assert ledger.seen_trade_ids == set(store)
        assert all(p.quantity >= 0 for p in ledger.positions.values())

    final = replay(fills)
    assert dict(ledger.positions) == final
    for symbol, position in final.items():
        assert position.fees_paid == _total_fees(fills, symbol)


@FAST
@given(fills=fill_lists(), data=st.data())
def test_replay_permuted_and_duplicated_input_same_positions(
    fills: list[FillReport], data: st.DataObject
) -> None:
    extra = data.draw(st.lists(st.sampled_from(fills), max_size=10)) if fills else []
    shuffled = data.draw(st.permutations([*fills, *extra]))
    assert replay(shuffled) == replay(fills)


@FAST
@given(fills=fill_lists())
def test_replay_any_fills_quantity_never_negative_and_cash_flow_identity_exact(
    fills: list[FillReport],
) -> None:
    ledger, applied = replay_ledger(fills)
    for item in applied:
        assert item.effect.oversold_quantity >= 0
    for symbol, position in ledger.positions.items():
        assert position.quantity >= 0
        assert position.fees_paid == _total_fees(fills, symbol)
        if position.quantity == 0:
            assert position.cost_basis == 0
        effects = [a.effect for a in applied if a.effect.symbol == symbol]
        # realized − cost still held == sell proceeds (held part) − buy notional − all fees, to the unit
        proceeds = sum((-e.quantity_delta * e.price for e in effects if e.side is Side.SELL), D(0))
        spent = sum((e.quantity * e.price for e in effects if e.side is Side.BUY), D(0))
        assert position.realized_pnl - position.cost_basis == proceeds - spent - position.fees_paid
        held = sum((e.quantity_delta for e in effects), D(0))
        assert position.quantity == held


@FAST
@given(
    price=prices,
    legs_in=st.lists(st.tuples(quantities, fees, fees), min_size=1, max_size=6),
    data=st.data(),
)
def test_apply_fill_buy_then_full_sell_same_price_realized_equals_minus_fees(
    price: Decimal, legs_in: list[tuple[Decimal, Decimal, Decimal]], data: st.DataObject
) -> None:
    total = sum((q for q, _, _ in legs_in), D(0))
    # split the same total into sell legs at random cut points (partial exits)
    units = int(total.scaleb(6))
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(units - 1, 1)), max_size=5))) - {units})
    sizes = [D(b - a).scaleb(-6) for a, b in zip([0, *cuts], [*cuts, units], strict=True)]
    fills = [make_fill(f"b{i}", Side.BUY, price, q, f, t, at=i) for i, (q, f, t) in enumerate(legs_in)]
    for j, size in enumerate(sizes):
        fee, tax = data.draw(fees), data.draw(fees)
        fills.append(make_fill(f"s{j}", Side.SELL, price, size, fee, tax, at=100 + j))
    position = fold(fills)
    all_fees = sum((f.fee + f.tax for f in fills), D(0))
    assert position.quantity == 0 and position.cost_basis == 0
    assert position.realized_pnl == -all_fees
    assert position.fees_paid == all_fees


def test_applied_fill_pairs_fill_with_effect() -> None:
    fill = make_fill("1", Side.BUY, "100", "1")
    result = ingest(Ledger(), [fill])
    assert result.applied == [AppliedFill(fill, result.applied[0].effect)]
    assert result.applied[0].effect.total_fee == 0
