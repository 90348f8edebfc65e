"""Risk filter (R-RISK): every intent is accepted or dropped with a `CATEGORY_CONDITION` code.

Caps and open-order limits restrain new exposure, so they apply to buys; sells that reduce a position pass
them (protective exits are never refused for a cap; they are still subject to trading state and preflight).
An accepted buy carries `meta["max_notional"]`: how far preflight may bump it to the venue's minimum order
value while every cap still holds. All amounts are compared in the pair's quote currency; TRY caps
are converted with `MarketSnapshot.quote_to_try`. With `sell_above_break_even` (stage 4) a sell priced
below break-even including fees is dropped (PROFIT_BELOW_BREAK_EVEN), except a stop exit (LOSS_EXITS).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.fees import VAT_RATE, fee_schedule
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Denial, Intent, LocalOrder, Side, TradingState
from btcbot.domain.money import ZERO, dec_str
from btcbot.domain.strategies import SKIP

__all__ = ["LOSS_EXITS", "RiskDecision", "RiskParams", "break_even_sell_price", "filter_intents"]

# Exits allowed below break-even by the sell-side minimum-profit rule: a stop limits a loss (a trailing stop is a
# stop whose level follows the price; "trailing_stop" is its exit kind where that exit exists).
LOSS_EXITS = frozenset({"stop_loss", "trailing_stop"})


@dataclass(frozen=True, slots=True)
class RiskParams:
    cash_target_try: Decimal
    max_order_notional_try: Decimal
    max_cycle_notional_try: Decimal
    max_position_notional_try: Decimal
    max_open_orders: int
    max_open_orders_per_symbol: int
    cooldown_seconds: int
    sell_above_break_even: bool = False  # stage 4: no sell below break-even incl. fees, except a stop-loss exit


@dataclass(slots=True)
class RiskDecision:
    accepted: list[Intent] = field(default_factory=list)
    denials: list[Denial] = field(default_factory=list)


def _deny(decision: RiskDecision, intent: Intent, code: str, **detail: object) -> None:
    decision.denials.append(Denial(intent, code, {k: _fmt(v) for k, v in detail.items()}))


def _fmt(value: object) -> str:
    return dec_str(value) if isinstance(value, Decimal) else str(value)


@dataclass(slots=True)
class _Tally:
    """What this cycle has committed so far (open-order slots, TRY notional, quote cash)."""

    open_total: int
    open_by_symbol: dict[str, int]
    spent_try: Decimal = ZERO
    spent_quote: dict[str, Decimal] = field(default_factory=dict)

    def take_slot(self, symbol: str) -> None:
        self.open_total += 1
        self.open_by_symbol[symbol] = self.open_by_symbol.get(symbol, 0) + 1


def filter_intents(
    intents: Sequence[Intent],
    snapshot: MarketSnapshot,
    positions: Mapping[str, Position],
    open_orders: Sequence[LocalOrder],
    last_fill_at: Mapping[str, datetime],
    state: TradingState,
    params: RiskParams,
) -> RiskDecision:
    """Apply validity, trading state, then (buys only) open-order limits, balance availability and caps."""
    decision = RiskDecision()
    tally = _Tally(len(open_orders), {})
    # An intent on a (symbol, side) that already has a live order replaces it: the old order's slot and
    # its locked funds are counted as available to the replacement.
    existing: dict[tuple[str, Side], list[LocalOrder]] = {}
    for order in open_orders:
        tally.open_by_symbol[order.symbol] = tally.open_by_symbol.get(order.symbol, 0) + 1
        existing.setdefault((order.symbol, order.side), []).append(order)
    for intent in intents:
        replaced = existing.get((intent.symbol, intent.side), [])
        if SKIP in intent.meta:  # the strategy's own reason (rules, price, notional...)
            decision.denials.append(Denial(intent, intent.meta[SKIP], {k: v for k, v in intent.meta.items()
                                                                       if k != SKIP}))
        elif intent.meta.get("refused") == "gap":
            _deny(decision, intent, "EXIT_GAP_BEYOND_SLIPPAGE", kind=intent.exit_kind or "", bid_below=intent.price,
                  reference=intent.reference_price or intent.price)
        elif intent.price <= 0 or intent.quantity <= 0:
            _deny(decision, intent, "INTENT_INVALID", price=intent.price, quantity=intent.quantity)
        elif state is TradingState.HALTED:
            _deny(decision, intent, "STATE_HALTED", trading_state=state.value)
        elif state is TradingState.REDUCE_ONLY and intent.side is Side.BUY:
            _deny(decision, intent, "STATE_REDUCE_ONLY", side=intent.side.value)
        else:
            checked = _check_sell(intent, snapshot, positions, params) if intent.side is Side.SELL else _check_buy(
                intent, replaced, snapshot, positions, last_fill_at, params, tally)
            if isinstance(checked, Denial):
                decision.denials.append(checked)
                continue
            if not replaced:
                tally.take_slot(intent.symbol)
            decision.accepted.append(checked)
    return decision


def break_even_sell_price(avg_cost: Decimal, quote: str) -> Decimal:
    """The lowest sell price that loses nothing: `avg_cost` already holds the buy fees; the sell pays the
    taker fee plus VAT (the worst case: a limit sell may take)."""
    return avg_cost / (1 - fee_schedule(quote).taker * (1 + VAT_RATE))


def _check_sell(intent: Intent, snapshot: MarketSnapshot, positions: Mapping[str, Position],
                params: RiskParams) -> Intent | Denial:
    """Sell-side minimum profit (stage 4): a stop-loss exit limits a loss and may sell below break-even."""
    position = positions.get(intent.symbol)
    if not params.sell_above_break_even or intent.exit_kind in LOSS_EXITS or position is None or (
        position.quantity <= 0 or intent.symbol not in snapshot.rules
    ):
        return intent
    floor = break_even_sell_price(position.avg_cost, snapshot.rules[intent.symbol].quote)
    if intent.price >= floor:
        return intent
    return Denial(intent, "PROFIT_BELOW_BREAK_EVEN", {
        "price": _fmt(intent.price), "break_even": _fmt(floor.quantize(Decimal("1e-8"))),
        "avg_cost": _fmt(position.avg_cost.quantize(Decimal("1e-8"))), "exit_kind": intent.exit_kind or ""})


def _check_buy(intent: Intent, replaced: Sequence[LocalOrder], snapshot: MarketSnapshot,
               positions: Mapping[str, Position], last_fill_at: Mapping[str, datetime], params: RiskParams,
               tally: _Tally) -> Intent | Denial:
    """The caps of one buy; on acceptance books its notional and cash in `tally` and records the bump cap."""

    def deny(code: str, **detail: object) -> Denial:
        return Denial(intent, code, {k: _fmt(v) for k, v in detail.items()})

    rules = snapshot.rules[intent.symbol]
    freed_slots = len(replaced)
    if tally.open_total - freed_slots >= params.max_open_orders:
        return deny("ORDERS_MAX_OPEN", open=tally.open_total, max=params.max_open_orders)
    symbol_open = tally.open_by_symbol.get(intent.symbol, 0) - freed_slots
    if symbol_open >= params.max_open_orders_per_symbol:
        return deny("ORDERS_MAX_OPEN_SYMBOL", symbol=intent.symbol, open=symbol_open,
                    max=params.max_open_orders_per_symbol)
    if snapshot.balances is None:
        return deny("BALANCE_UNAVAILABLE", reason="private balances could not be read")
    rate = snapshot.quote_to_try(rules.quote)
    if rate is None or rate <= 0:
        return deny("PRICE_NO_CONVERSION", quote=rules.quote)
    notional_try = intent.notional * rate
    last = last_fill_at.get(intent.symbol)
    if last is not None and snapshot.now - last < timedelta(seconds=params.cooldown_seconds):
        return deny("COOLDOWN_ACTIVE", symbol=intent.symbol, last_fill_at=last.isoformat(),
                    cooldown_seconds=params.cooldown_seconds)
    if notional_try > params.max_order_notional_try:
        return deny("NOTIONAL_ORDER_CAP", notional_try=notional_try, max=params.max_order_notional_try)
    if tally.spent_try + notional_try > params.max_cycle_notional_try:
        return deny("NOTIONAL_CYCLE_CAP", spent_try=tally.spent_try, notional_try=notional_try,
                    max=params.max_cycle_notional_try)
    position = positions.get(intent.symbol)
    held = position.quantity * intent.price * rate if position is not None else ZERO
    if held + notional_try > params.max_position_notional_try:
        return deny("POSITION_NOTIONAL_CAP", position_try=held, notional_try=notional_try,
                    max=params.max_position_notional_try)
    free = snapshot.free(rules.quote) + sum((o.remaining * o.price for o in replaced), ZERO)
    investable = max(ZERO, free - params.cash_target_try / rate - tally.spent_quote.get(rules.quote, ZERO))
    needed = intent.notional * (1 + fee_schedule(rules.quote).headroom)
    if needed > investable:
        return deny("CASH_INSUFFICIENT", needed=needed, investable=investable, asset=rules.quote)
    tally.spent_try += notional_try
    tally.spent_quote[rules.quote] = tally.spent_quote.get(rules.quote, ZERO) + needed
    # preflight may bump a buy to the venue's minimum order value only while every cap still holds (R-EXEC-6)
    headroom_try = min(params.max_order_notional_try - notional_try, params.max_cycle_notional_try - tally.spent_try,
                       params.max_position_notional_try - held - notional_try)
    cash_headroom = (investable - needed) / (1 + fee_schedule(rules.quote).headroom)
    headroom_quote = max(ZERO, min(headroom_try / rate, cash_headroom))
    return replace(intent, meta={**intent.meta, "max_notional": dec_str(intent.notional + headroom_quote)})
