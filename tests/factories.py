"""Test factories for the pure domain, with BTCTRY defaults (base scale 8, price scale 0, min notional 99.91).

Amount parameters take str, int or Decimal (never float). Import with `from factories import ...`: pytest puts
tests/ on sys.path because tests/conftest.py lives there (rootdir-relative "prepend" import mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.candles import Candle
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import (
    Balance,
    BookLevel,
    ExchangeOrderStatus,
    FillReport,
    Intent,
    LocalOrder,
    OrderBook,
    OrderMethod,
    OrderReport,
    Side,
)
from btcbot.domain.money import to_decimal
from btcbot.domain.order_fsm import OrderStatus
from btcbot.domain.planner import PlanParams
from btcbot.domain.replace_fsm import ChainStep, ReplaceChain, ReplaceState
from btcbot.domain.risk import RiskParams
from btcbot.domain.strategies.trailing import Trail
from btcbot.domain.symbols import SymbolRules, split_symbol

__all__ = [
    "T0",
    "D",
    "PortClock",
    "make_balances",
    "make_book",
    "make_candles",
    "make_chain",
    "make_intent",
    "make_order",
    "make_plan_params",
    "make_position",
    "make_report",
    "make_risk_params",
    "make_rules",
    "make_snapshot",
    "make_trail",
]

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

Amount = str | int | Decimal


def D(value: Amount) -> Decimal:
    return to_decimal(value)


def make_rules(
    symbol: str = "BTCTRY",
    *,
    base_scale: int = 8,
    quote_scale: int = 2,
    price_scale: int = 0,
    tick_size: Amount = "1",
    min_notional: Amount = "99.91",
    min_price: Amount = "1",
    max_price: Amount = "100000000",
    band_low: Amount | None = None,
    band_high: Amount | None = None,
    tradable: bool = True,
    market_orders: bool = True,
) -> SymbolRules:
    base, quote = split_symbol(symbol)
    return SymbolRules(
        symbol=symbol,
        base=base,
        quote=quote,
        base_scale=base_scale,
        quote_scale=quote_scale,
        price_scale=price_scale,
        tick_size=D(tick_size),
        min_notional=D(min_notional),
        min_price=D(min_price),
        max_price=D(max_price),
        band_low=None if band_low is None else D(band_low),
        band_high=None if band_high is None else D(band_high),
        tradable=tradable,
        market_orders=market_orders,
    )


def make_intent(
    symbol: str = "BTCTRY",
    side: Side = Side.BUY,
    price: Amount = "2000000",
    quantity: Amount = "0.0001",
    *,
    reason: str = "test",
    method: OrderMethod = OrderMethod.LIMIT,
    exit_kind: str | None = None,
    reference_price: Amount | None = None,
) -> Intent:
    return Intent(
        symbol=symbol,
        side=side,
        price=D(price),
        quantity=D(quantity),
        reason=reason,
        method=method,
        exit_kind=exit_kind,
        reference_price=None if reference_price is None else D(reference_price),
    )


def make_order(
    client_order_id: str = "bb3b-BTCTRY-0000000000000001",
    *,
    symbol: str = "BTCTRY",
    side: Side = Side.BUY,
    price: Amount = "2000000",
    quantity: Amount = "0.0001",
    filled_quantity: Amount = "0",
    exchange_filled: Amount = "0",
    status: OrderStatus = OrderStatus.OPEN,
    exchange_order_id: int | None = 1001,
    created_at: datetime = T0,
    age_seconds: int | None = None,
    now: datetime = T0,
    probe_count: int = 0,
    external: bool = False,
    stage: str = "3",
    method: OrderMethod = OrderMethod.LIMIT,
) -> LocalOrder:
    """A journal row. `age_seconds` (with `now`) overrides `created_at`."""
    created = now - timedelta(seconds=age_seconds) if age_seconds is not None else created_at
    return LocalOrder(
        client_order_id=client_order_id,
        exchange_order_id=exchange_order_id,
        venue="sim",
        stage=stage,
        symbol=symbol,
        side=side,
        method=method,
        price=D(price),
        quantity=D(quantity),
        filled_quantity=D(filled_quantity),
        exchange_filled=D(exchange_filled),
        status=status,
        intent_hash="0" * 64,
        dry_run=False,
        external=external,
        probe_count=probe_count,
        created_at=created,
        updated_at=created,
    )


def make_fill(
    trade_id: str,
    side: Side,
    price: Amount,
    quantity: Amount,
    fee: Amount = "0",
    tax: Amount = "0",
    *,
    symbol: str = "BTCTRY",
    at: datetime | int = 0,
    order_id: int = 1,
    fee_asset: str | None = None,
) -> FillReport:
    """One of our fills; `at` is a datetime or seconds after T0; the fee asset defaults to the quote."""
    return FillReport(
        trade_id=trade_id,
        exchange_order_id=order_id,
        client_order_id=None,
        symbol=symbol,
        side=side,
        price=D(price),
        quantity=D(quantity),
        fee=D(fee),
        tax=D(tax),
        fee_asset=fee_asset if fee_asset is not None else split_symbol(symbol)[1],
        timestamp=at if isinstance(at, datetime) else T0 + timedelta(seconds=at),
    )


def make_report(
    status: ExchangeOrderStatus = ExchangeOrderStatus.UNTOUCHED,
    *,
    exchange_order_id: int = 1001,
    client_order_id: str | None = "bb3b-BTCTRY-0000000000000001",
    symbol: str = "BTCTRY",
    side: Side = Side.BUY,
    price: Amount = "2000000",
    quantity: Amount = "0.0001",
    left_quantity: Amount | None = None,
    at: datetime = T0,
) -> OrderReport:
    """The venue's view of an order; `left_quantity` defaults to all (open/canceled) or none (Closed)."""
    if left_quantity is None:
        left_quantity = "0" if status is ExchangeOrderStatus.CLOSED else quantity
    return OrderReport(
        exchange_order_id=exchange_order_id,
        client_order_id=client_order_id,
        symbol=symbol,
        side=side,
        method=OrderMethod.LIMIT,
        price=D(price),
        quantity=D(quantity),
        left_quantity=D(left_quantity),
        status=status,
        created_at=at,
        updated_at=at,
    )


def make_book(
    symbol: str = "BTCTRY",
    bid: Amount | None = "2000000",
    ask: Amount | None = "2001000",
    *,
    size: Amount = "1",
    timestamp: datetime = T0,
) -> OrderBook:
    bids = () if bid is None else (BookLevel(D(bid), D(size)),)
    asks = () if ask is None else (BookLevel(D(ask), D(size)),)
    return OrderBook(symbol=symbol, bids=bids, asks=asks, timestamp=timestamp)


def make_balances(**free: Amount) -> dict[str, Balance]:
    """`make_balances(TRY="1000", BTC="0.1")` → free balances with nothing locked."""
    return {asset: Balance(asset, D(amount), D(0)) for asset, amount in free.items()}


def make_snapshot(
    books: list[OrderBook] | None = None,
    rules: list[SymbolRules] | None = None,
    balances: dict[str, Balance] | None = None,
    *,
    no_balances: bool = False,
    now: datetime = T0,
) -> MarketSnapshot:
    """Defaults: one BTCTRY book and rules, 10,000 TRY free. `no_balances=True` models R-SAFE-3."""
    books = [make_book()] if books is None else books
    if rules is None:
        rules = [make_rules(book.symbol) for book in books]
    if balances is None and not no_balances:
        balances = make_balances(TRY="10000")
    return MarketSnapshot(
        now=now,
        books={book.symbol: book for book in books},
        rules={rule.symbol: rule for rule in rules},
        balances=None if no_balances else balances,
    )


def make_position(symbol: str = "BTCTRY", quantity: Amount = "0.001", avg_cost: Amount = "2000000") -> Position:
    qty = D(quantity)
    return Position(symbol=symbol, quantity=qty, cost_basis=qty * D(avg_cost), last_fill_at=T0, opened_at=T0)


def make_trail(symbol: str = "BTCTRY", mark: Amount = "2100000", stop_bps: Amount = "150", *,
               opened_at: datetime = T0, logged_mark: Amount | None = None,
               triggered_at: datetime | None = None) -> Trail:
    """An armed trail of the position `make_position` opens (same `opened_at`)."""
    return Trail(symbol, opened_at, D(mark), D(stop_bps), opened_at, D(mark if logged_mark is None else logged_mark),
                 triggered_at)


def make_risk_params(
    *,
    cash_target_try: Amount = "0",
    max_order_notional_try: Amount = "1000",
    max_cycle_notional_try: Amount = "5000",
    max_position_notional_try: Amount = "10000",
    max_open_orders: int = 10,
    max_open_orders_per_symbol: int = 2,
    cooldown_seconds: int = 0,
) -> RiskParams:
    return RiskParams(
        cash_target_try=D(cash_target_try),
        max_order_notional_try=D(max_order_notional_try),
        max_cycle_notional_try=D(max_cycle_notional_try),
        max_position_notional_try=D(max_position_notional_try),
        max_open_orders=max_open_orders,
        max_open_orders_per_symbol=max_open_orders_per_symbol,
        cooldown_seconds=cooldown_seconds,
    )


def make_plan_params(stale_order_seconds: int = 600, stale_price_bps: Amount = "20") -> PlanParams:
    return PlanParams(stale_order_seconds=stale_order_seconds, stale_price_bps=D(stale_price_bps))


def make_chain(
    old: LocalOrder,
    state: ReplaceState = ReplaceState.CANCEL_REQUESTED,
    *,
    chain_id: int = 1,
    planned_price: Amount | None = None,
    planned_quantity: Amount | None = None,
    filled_at_request: Amount = "0",
    filled_seen: Amount | None = None,
    updated_at: datetime = T0,
) -> ChainStep:
    """An open replace-chain step of `old` (its current journal row), planned like the old order by default."""
    chain = ReplaceChain(
        id=chain_id, root_client_order_id=old.client_order_id, seq=1, symbol=old.symbol, side=old.side,
        old_client_order_id=old.client_order_id, new_client_order_id=None, state=state,
        trigger="REPLACE_PRICE_MOVED", planned_price=D(planned_price if planned_price is not None else old.price),
        planned_quantity=D(planned_quantity if planned_quantity is not None else old.quantity),
        old_filled_at_request=D(filled_at_request),
        old_filled_seen=D(filled_seen if filled_seen is not None else filled_at_request), stage=old.stage,
        created_at=updated_at, updated_at=updated_at,
    )
    return ChainStep(chain, old)


@dataclass
class PortClock:
    """The `Clock` port for services: `now()` returns `at`, which the test moves."""

    at: datetime = T0

    def now(self) -> datetime:
        return self.at


class FakeClock:
    """A callable clock (as the BTCTurk client takes it) whose `sleep` advances time instead of waiting."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def make_candles(closes: list[Amount], *, start: datetime = T0, spread: Amount = "0.002", volume: Amount = "1",
                 minutes: int = 1) -> list[Candle]:
    """1-minute candles (or `minutes`) closing at `closes`, each opening at the previous close, with a high/low
    `spread` (a fraction) beyond open and close."""
    candles: list[Candle] = []
    previous = D(closes[0])
    for index, value in enumerate(closes):
        close = D(value)
        high = max(previous, close) * (1 + D(spread))
        low = min(previous, close) * (1 - D(spread))
        candles.append(Candle(start + timedelta(minutes=index * minutes), previous, high, low, close, D(volume)))
        previous = close
    return candles
