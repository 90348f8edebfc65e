"""Trailing stop (issue 11): activation, the high-water mark, the trigger, resets; Decimal only."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from factories import T0, D, make_book, make_position, make_rules, make_trail
from hypothesis import given
from hypothesis import strategies as st

from btcbot.domain.events import EventKind
from btcbot.domain.fees import fee_schedule
from btcbot.domain.strategies.trailing import (
    MARK_LOG_STEP_BPS,
    TrailParams,
    TrailStep,
    activation_price,
    advance_trail,
)

NOW = T0 + timedelta(hours=1)
ON = TrailParams(stop_bps=D(150), activation_bps=D(0))
RULES = make_rules()
POSITION = make_position(quantity="0.001", avg_cost="2000000")  # worth ~2,000 TRY, opened at T0


def _step(previous: object, bid: str | None, *, position: object = POSITION, params: TrailParams = ON,
          rules: object = RULES) -> TrailStep:
    book = make_book(bid=bid) if bid is not None else None
    return advance_trail(previous, position, book, rules, NOW, params)  # type: ignore[arg-type]


def _kinds(step: TrailStep) -> list[tuple[EventKind, str]]:
    return [(e.kind, e.code) for e in step.events]


def test_trail_off_keeps_no_mark() -> None:
    step = _step(None, "2000000", params=TrailParams())
    assert step.trail is None and step.events == ()


def test_trail_switched_off_clears_the_mark_with_event() -> None:
    step = _step(make_trail(), "2000000", params=TrailParams())
    assert step.trail is None
    assert _kinds(step) == [(EventKind.TRAIL_RESET, "TRAILING_OFF")]


def test_trail_activation_zero_arms_at_once_at_the_bid() -> None:
    step = _step(None, "1990000")  # at a loss: 0 means armed at once all the same
    assert step.trail is not None
    assert step.trail.mark == D(1990000) and step.trail.opened_at == POSITION.opened_at
    assert step.trail.armed_at == NOW
    assert step.trail.trigger_price == D(1990000) * D("0.985")
    assert _kinds(step) == [(EventKind.TRAIL_ARMED, "ARMED_AT_ONCE")]


def test_trail_activation_counts_the_sell_fee_so_bare_profit_waits() -> None:
    params = replace(ON, activation_bps=D(100))
    step = _step(None, "2020000", params=params)  # exactly 1 % over avg cost, but not after the sell's fee + VAT
    assert step.trail is None and step.events == ()


def test_trail_activation_price_reached_arms() -> None:
    params = replace(ON, activation_bps=D(100))
    threshold = activation_price(POSITION, "TRY", params)
    assert threshold == D(2020000) / (1 - D("0.0024") * D("1.18"))
    below = _step(None, str(threshold - D("0.01")), params=params)
    at = _step(None, str(threshold), params=params)
    assert below.trail is None
    assert at.trail is not None and at.trail.mark == threshold
    assert _kinds(at) == [(EventKind.TRAIL_ARMED, "ACTIVATION_REACHED")]


def test_trail_usdt_pair_activation_uses_the_usdt_fee_schedule() -> None:
    params = replace(ON, activation_bps=D(100))
    position = make_position("BTCUSDT", quantity="0.001", avg_cost="85000")
    threshold = activation_price(position, "USDT", params)
    assert threshold == D(85850) / (1 - fee_schedule("USDT").headroom)
    step = advance_trail(None, position, make_book("BTCUSDT", bid=str(threshold)), make_rules(
        "BTCUSDT", min_notional="10"), NOW, params)
    assert step.trail is not None and step.trail.symbol == "BTCUSDT"


def test_trail_armed_stays_armed_below_the_activation_price() -> None:
    params = replace(ON, activation_bps=D(100))
    step = _step(make_trail(mark="2100000"), "2010000", params=params)
    assert step.trail is not None and step.trail.mark == D(2100000)


def test_trail_mark_rises_with_the_bid_and_never_falls() -> None:
    up = _step(make_trail(mark="2100000"), "2110000")
    assert up.trail is not None and up.trail.mark == D(2110000)
    down = _step(up.trail, "2105000")
    assert down.trail is not None and down.trail.mark == D(2110000)


def test_trail_small_rise_is_saved_without_an_event() -> None:
    step = _step(make_trail(mark="2100000"), "2105000")  # +23.8 bps < 25 bps since the last logged mark
    assert step.trail is not None and step.trail.mark == D(2105000)
    assert step.trail.logged_mark == D(2100000)
    assert step.events == ()


def test_trail_rise_of_a_log_step_records_mark_raised() -> None:
    first = _step(make_trail(mark="2100000"), "2104000")
    step = _step(first.trail, "2105250")  # 2,100,000 × 1.0025: a full step over the last logged mark
    assert D(2105250) == D(2100000) * (1 + MARK_LOG_STEP_BPS / 10_000)
    assert _kinds(step) == [(EventKind.TRAIL_MARK_RAISED, "MARK_STEP")]
    assert step.trail is not None and step.trail.logged_mark == D(2105250)
    assert step.events[0].detail["previous"] == "2100000"


def test_trail_bid_at_trigger_records_triggered_once() -> None:
    trail = make_trail(mark="2100000")  # trigger 2,068,500
    hit = _step(trail, "2068500")
    assert _kinds(hit) == [(EventKind.TRAIL_TRIGGERED, "BID_AT_OR_BELOW_TRIGGER")]
    assert hit.trail is not None and hit.trail.triggered_at == NOW and hit.trail.mark == D(2100000)
    assert hit.events[0].detail["trigger_price"] == "2068500"
    again = _step(hit.trail, "2060000")
    assert again.events == () and again.trail == hit.trail


def test_trail_bid_just_above_trigger_does_not_trigger() -> None:
    step = _step(make_trail(mark="2100000"), "2068501")
    assert step.events == ()
    assert step.trail is not None and step.trail.triggered_at is None


def test_trail_new_high_after_trigger_rearms_the_trigger_event() -> None:
    hit = _step(make_trail(mark="2100000"), "2060000")
    high = _step(hit.trail, "2100001")
    assert high.trail is not None and high.trail.triggered_at is None
    second = _step(high.trail, "2060000")
    assert _kinds(second) == [(EventKind.TRAIL_TRIGGERED, "BID_AT_OR_BELOW_TRIGGER")]


def test_trail_partial_sell_keeps_the_mark() -> None:
    trail = make_trail(mark="2100000")
    smaller = make_position(quantity="0.0004", avg_cost="2000000")  # same opened_at, 800 TRY left
    step = _step(trail, "2080000", position=smaller)
    assert step.trail is not None and step.trail.mark == D(2100000)
    assert step.events == ()


def test_trail_further_buy_keeps_the_mark() -> None:
    bigger = make_position(quantity="0.003", avg_cost="2050000")  # same opened_at: another partial buy filled
    step = _step(make_trail(mark="2100000"), "2080000", position=bigger)
    assert step.trail is not None and step.trail.mark == D(2100000) and step.events == ()


def test_trail_new_position_resets_and_starts_fresh() -> None:
    old = make_trail(mark="2500000")
    new_position = replace(POSITION, opened_at=T0 + timedelta(minutes=30))
    step = _step(old, "2000000", position=new_position)
    assert _kinds(step) == [(EventKind.TRAIL_RESET, "NEW_POSITION"), (EventKind.TRAIL_ARMED, "ARMED_AT_ONCE")]
    assert step.trail is not None
    assert step.trail.mark == D(2000000) and step.trail.opened_at == new_position.opened_at


def test_trail_new_position_waiting_for_activation_has_no_mark() -> None:
    new_position = replace(POSITION, opened_at=T0 + timedelta(minutes=30))
    step = _step(make_trail(mark="2500000"), "2000000", position=new_position,
                 params=replace(ON, activation_bps=D(100)))
    assert step.trail is None
    assert _kinds(step) == [(EventKind.TRAIL_RESET, "NEW_POSITION")]


def test_trail_flat_position_resets() -> None:
    flat = make_position(quantity="0")
    assert _kinds(_step(make_trail(), "2000000", position=flat)) == [(EventKind.TRAIL_RESET, "POSITION_FLAT")]
    assert _kinds(_step(make_trail(), "2000000", position=None)) == [(EventKind.TRAIL_RESET, "POSITION_FLAT")]
    assert _step(make_trail(), None, position=None).trail is None  # flat is known without a book


def test_trail_dust_position_resets_and_never_arms() -> None:
    dust = make_position(quantity="0.00004")  # 80 TRY < 99.91 minimum order value
    step = _step(make_trail(), "2000000", position=dust)
    assert step.trail is None and _kinds(step) == [(EventKind.TRAIL_RESET, "POSITION_DUST")]
    assert _step(None, "2000000", position=dust) == TrailStep(None)


def test_trail_no_bid_this_cycle_changes_nothing() -> None:
    trail = make_trail(mark="2100000")
    assert _step(trail, None) == TrailStep(trail)
    no_bids = advance_trail(trail, POSITION, make_book(bid=None), RULES, NOW, ON)
    assert no_bids == TrailStep(trail)
    assert advance_trail(None, POSITION, make_book(bid=None), RULES, NOW, ON) == TrailStep(None)


def test_trail_changed_stop_bps_moves_the_trigger() -> None:
    step = _step(make_trail(mark="2100000", stop_bps="150"), "2090000", params=replace(ON, stop_bps=D(300)))
    assert step.trail is not None and step.trail.trigger_price == D(2037000)


_bid = st.integers(min_value=1_500_000, max_value=3_000_000).map(Decimal)


@given(bids=st.lists(_bid, min_size=1, max_size=40),
       sells=st.lists(st.integers(min_value=50, max_value=100), min_size=40, max_size=40),
       stop_bps=st.integers(min_value=1, max_value=9_999).map(Decimal))
def test_trail_mark_is_the_running_max_and_trigger_is_exact(bids: list[Decimal], sells: list[int],
                                                            stop_bps: Decimal) -> None:
    """While a position stays open (partial sells included) the mark never decreases, equals the highest bid
    since it armed, and the trigger price is exactly mark × (1 − bps/10⁴), all in Decimal."""
    params = TrailParams(stop_bps, D(0))
    trail = None
    quantity = D("0.001")
    for bid, pct in zip(bids, sells, strict=False):
        quantity = max(quantity * pct / 100, D("0.0001"))  # partial sells; stays above the minimum value
        position = make_position(quantity=quantity)
        before = trail.mark if trail is not None else None
        trail = advance_trail(trail, position, make_book(bid=bid), RULES, NOW, params).trail
        assert trail is not None
        assert before is None or trail.mark >= before
        assert isinstance(trail.mark, Decimal) and isinstance(trail.trigger_price, Decimal)
        assert trail.trigger_price == trail.mark * (1 - stop_bps / 10_000)
        assert trail.triggered_by(bid) == (bid <= trail.mark * (1 - stop_bps / 10_000))
    assert trail is not None and trail.mark == max(bids)


@given(mark=st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(10) ** 9, places=8),
       stop_bps=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2))
def test_trail_trigger_price_is_exact_for_any_decimal(mark: Decimal, stop_bps: Decimal) -> None:
    trail = make_trail(mark=mark, stop_bps=stop_bps)
    assert trail.trigger_price == mark * (1 - stop_bps / 10_000)
    assert trail.trigger_price < trail.mark
