"""Deterministic matching engine of the simulator: state + exchange rules, no I/O, no clock reads.

Every mutation takes the caller's `now`; stamps never go backwards (`EngineState.last_event`).

Fill model
  - A limit order first takes the opposite book levels it crosses, at the levels' prices (taker fee),
    consuming their size; the remainder rests (`Untouched`, or `Partial` once partly filled).
  - On each tick the feed gives a new book. A resting buy at p fills as maker at p against the new ask
    levels priced <= p (limited by their sizes), then against the tick's sell flow if p >= best bid;
    sells symmetrically. Orders are served best price first, then oldest first.
  - A tick that carries a traded range (`MarketTick.low/high`, a backtest candle) fills resting orders by
    that range instead: a buy at p fills as maker at p when low < p (a touch, low == p, does not fill), a
    sell when high > p, each side limited by the tick's flow (the sell flow for buys, the buy flow for
    sells), best price first, then oldest first. The new book's levels are not taken by resting orders.
  - A market buy spends at most its quote amount (notional + fee + tax), a market sell sells its base
    amount; both walk the book no further than `market_slippage` from the best opposite price, the
    rest is dropped and the order ends `Closed` (`Canceled` if nothing at all could be filled).

Rounding rule (the one rule for every fill): fee = notional × rate and tax = fee × tax_rate, each rounded
DOWN (toward zero) to 8 decimals. Truncation never charges more than the nominal rate, so a resting buy's
lock (price × left × (1 + taker × (1 + tax_rate))) always covers its fills and a market buy never spends
more than its budget. Balances move by exactly the fills: a buy debits price × qty + fee + tax of quote
and credits qty of base; a sell debits qty of base and credits price × qty − fee − tax of quote.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from btcbot.adapters.sim.config import PairSpec, SimConfig
from btcbot.adapters.sim.market import MarketFeed
from btcbot.adapters.sim.state import Changes, EngineState, Holding, Level, SimBook, SimFill, SimOrder
from btcbot.adapters.sim.validation import (
    REJECT_CODES,
    CheckedOrder,
    check_order,
    normalize_symbol,
    pair_rules,
    reject,
)
from btcbot.domain.errors import OrderNotFound
from btcbot.domain.models import Balance, ExchangeOrderStatus, FillReport, OrderMethod, Side
from btcbot.domain.money import ONE, ZERO, floor_to_scale, quantize_scale
from btcbot.domain.symbols import SymbolRules

__all__ = ["FEE_SCALE", "MatchingEngine", "fee_and_tax"]

FEE_SCALE = 8

_CLIENT_ID_NAMESPACE = uuid.UUID("6b2f1c1e-57a8-4c1b-9a53-0f1d2b3c4d5e")
_Status = ExchangeOrderStatus


def fee_and_tax(notional: Decimal, rate: Decimal, tax_rate: Decimal) -> tuple[Decimal, Decimal]:
    """Fee and tax (VAT on the fee) of one fill, each rounded down to FEE_SCALE decimals."""
    fee = floor_to_scale(notional * rate, FEE_SCALE)
    return fee, floor_to_scale(fee * tax_rate, FEE_SCALE)


class MatchingEngine:
    """The simulated venue over an `EngineState`; callers persist `drain()`ed changes."""

    def __init__(self, config: SimConfig, feed: MarketFeed, state: EngineState) -> None:
        self.config = config
        self.feed = feed
        self.state = state
        self._pairs = {spec.symbol: spec for spec in config.pairs}
        self._open = {oid for oid, o in state.orders.items() if o.status.is_open}
        self._changes = Changes()

    @classmethod
    def create(cls, config: SimConfig, feed: MarketFeed, now: datetime) -> MatchingEngine:
        """A new market at `now` (tick 0): start prices, first books, initial balances."""
        state = EngineState(
            seed=config.seed,
            tick=0,
            last_wall=now,
            last_event=now,
            next_order_id=config.first_order_id,
            next_trade_id=config.first_trade_id,
        )
        engine = cls(config, feed, state)
        engine.add_missing(now)
        return engine

    def add_missing(self, now: datetime) -> None:
        """Create configured pairs and assets the state does not have yet (at their start values)."""
        for spec in self.config.pairs:
            if spec.symbol not in self.state.mids:
                self.state.mids[spec.symbol] = spec.start_price
                market = self.feed.tick(spec.symbol, 0, spec.start_price, self.rules(spec.symbol), now)
                self.state.mids[spec.symbol] = market.mid
                self.state.books[spec.symbol] = SimBook.from_order_book(market.book, self.rules(spec.symbol))
                self._changes.market = True
            self.state.books.setdefault(spec.symbol, SimBook())
        for asset in self.config.assets:
            if asset not in self.state.holdings:
                self.state.holdings[asset] = Holding(free=self.config.initial_balances.get(asset, ZERO))
                self._changes.market = True

    # ----------------------------------------------------------------------------------- queries

    def symbols(self) -> list[str]:
        return [spec.symbol for spec in self.config.pairs]

    def spec(self, symbol: str) -> PairSpec:
        spec = self._pairs.get(normalize_symbol(symbol))
        if spec is None:
            raise reject("INVALID_REQUEST_ERROR", f"Pair {symbol} does not exists.")
        return spec

    def rules(self, symbol: str) -> SymbolRules:
        """exchangeinfo rules with the price band refreshed from the current mid."""
        spec = self.spec(symbol)
        return pair_rules(spec, self.state.mids[spec.symbol], self.config.band_factor)

    def book(self, symbol: str) -> SimBook:
        return self.state.books[self.spec(symbol).symbol]

    def balances(self) -> list[Balance]:
        return [Balance(a, h.free, h.locked) for a, h in sorted(self.state.holdings.items())]

    def open_order_ids(self) -> list[int]:
        return sorted(self._open)

    def drain(self) -> Changes:
        """Changes since the last drain (for the caller to persist)."""
        changes, self._changes = self._changes, Changes()
        return changes

    # --------------------------------------------------------------------------------- validation

    def check(self, symbol: str, side: str, method: str, price: Decimal, quantity: Decimal) -> CheckedOrder:
        """Validate in BTCTurk's order (see validation.py); Rejected names the first failing rule."""
        spec = self.spec(symbol)
        book = self.state.books[spec.symbol]
        return check_order(
            spec,
            self.rules(spec.symbol),
            (side, method, price, quantity),
            reference_price=book.bids[0].price if book.bids else self.state.mids[spec.symbol],
            holdings=self.state.holdings,
            buy_lock_factor=self._buy_lock_factor(spec),
        )

    # ---------------------------------------------------------------------------------- mutations

    def submit(
        self,
        *,
        symbol: str,
        side: str,
        method: str,
        price: Decimal,
        quantity: Decimal,
        client_order_id: str | None,
        now: datetime,
    ) -> SimOrder:
        """Validate (Rejected leaves the state untouched), then match; returns the live order record."""
        checked = self.check(symbol, side, method, price, quantity)
        at = self._stamp(now)
        order_id = self.state.next_order_id
        self.state.next_order_id += 1
        if not client_order_id:
            client_order_id = str(uuid.uuid5(_CLIENT_ID_NAMESPACE, f"{self.state.seed}:{order_id}"))
        limit = checked.method is OrderMethod.LIMIT
        order = SimOrder(
            order_id=order_id,
            client_order_id=client_order_id,
            symbol=checked.spec.symbol,
            side=checked.side,
            method=checked.method,
            price=price if limit else ZERO,
            quantity=quantity if limit or checked.side is Side.SELL else ZERO,
            left=quantity if limit or checked.side is Side.SELL else ZERO,
            requested=quantity,
            status=_Status.UNTOUCHED,
            created_at=at,
            updated_at=at,
        )
        self.state.orders[order_id] = order
        self._touch(order)
        if limit:
            self._place_limit(order, at)
        else:
            self._run_market(order, at)
        return order

    def cancel(self, order_id: int, now: datetime) -> None:
        """Accept a cancel request; with `cancel_delay_seconds` the order stays open (and may fill)
        until the delay has passed. Cancelling a cancelled order succeeds (BTCTurk since 2024)."""
        order = self.state.orders.get(order_id)
        if order is None:
            code = "NO_ORDER_MATCHES_YOUR_REQUEST"
            raise OrderNotFound(code, f"order {order_id}", REJECT_CODES[code])
        if order.status is _Status.CANCELED or order.cancel_due is not None:
            return
        if order.status is _Status.CLOSED:
            raise reject("ORDER_COULD_NOT_BE_CANCELED", f"order {order_id} is Closed")
        at = self._stamp(now)
        if self.config.cancel_delay_seconds <= 0:
            self._finish_cancel(order, at)
        else:
            order.cancel_due = at + timedelta(seconds=self.config.cancel_delay_seconds)
            self._touch(order)

    def advance(self, now: datetime, ticks: int | None = None) -> int:
        """Generate ticks up to `now` and match resting orders; returns the number of ticks.

        `ticks=None`: whole `tick_seconds` elapsed since the last advance (capped at
        `max_ticks_per_advance`; beyond the cap the extra time is skipped). `ticks=N`: exactly N ticks
        spread evenly over the time since the last advance. Nothing happens if `now` is before the
        latest stamp (clock moved backwards).
        """
        if ticks is not None and ticks < 0:
            raise ValueError("ticks must be >= 0")
        if now < self.state.last_wall or now < self.state.last_event:
            return 0
        times, wall = self._schedule(now, ticks)
        return self._run(times, wall, now)

    def check_tick_times(self, times: Sequence[datetime]) -> None:
        """ValueError unless `times` increase and none is before the latest stamp (nothing is changed)."""
        floor = max(self.state.last_wall, self.state.last_event)
        if times and (times[0] < floor or any(b <= a for a, b in itertools.pairwise(times))):
            raise ValueError("tick times must increase from the latest stamp")

    def advance_at(self, times: Sequence[datetime]) -> int:
        """Exactly one tick at each of `times` (see check_tick_times): uneven tick times, e.g. backtest
        candles with gaps, in one call. Returns the number of ticks."""
        self.check_tick_times(times)
        return self._run(list(times), times[-1], times[-1]) if times else 0

    def _run(self, times: list[datetime], wall: datetime, now: datetime) -> int:
        for at in times:
            self._step(at)
        if wall != self.state.last_wall:
            self.state.last_wall = wall
            self._changes.market = True
        self._apply_due_cancels(now)
        return len(times)

    def set_mid(self, symbol: str, mid: Decimal, now: datetime) -> None:
        """Move a pair's mid to `mid` at once (a test control: steer the price). The book is rebuilt around
        it as at a tick, resting orders the new book crosses fill, and later ticks walk on from `mid`."""
        spec = self.spec(symbol)
        if not mid > 0:
            raise ValueError("mid must be > 0")
        at = self._stamp(now)
        self.state.mids[spec.symbol] = mid
        rules = self.rules(spec.symbol)
        market = self.feed.tick(spec.symbol, 0, mid, rules, at)  # tick 0: the mid stays put, no flow
        book = SimBook.from_order_book(market.book, rules)
        self.state.books[spec.symbol] = book
        self._changes.market = True
        self._match_resting(spec.symbol, book, (ZERO, ZERO), at)

    def cancels_pending(self) -> bool:
        """Whether an accepted cancel waits for its delay (`cancel_delay_seconds`)."""
        return any(self.state.orders[i].cancel_due is not None for i in self._open)

    def settle_cancels(self, now: datetime) -> None:
        """Finish delayed cancels due by `now` without generating ticks (cancels are wall-clock events)."""
        if now >= self.state.last_event:
            self._apply_due_cancels(now)

    # -------------------------------------------------------------------------------- internals

    def _schedule(self, now: datetime, ticks: int | None) -> tuple[list[datetime], datetime]:
        prev, span = self.state.last_wall, now - self.state.last_wall
        step = timedelta(seconds=self.config.tick_seconds)
        if ticks is None:
            count = span // step
            if count <= self.config.max_ticks_per_advance:
                times = [prev + step * i for i in range(1, count + 1)]
                return [max(t, self.state.last_event) for t in times], prev + step * count
            ticks = self.config.max_ticks_per_advance
        times = [prev + span * i // ticks for i in range(1, ticks + 1)]
        return [max(t, self.state.last_event) for t in times], now

    def _step(self, at: datetime) -> None:
        self.state.tick += 1
        self.state.last_event = max(self.state.last_event, at)
        self._changes.market = True
        self._apply_due_cancels(at)
        for symbol in self.symbols():
            rules = self.rules(symbol)
            market = self.feed.tick(symbol, self.state.tick, self.state.mids[symbol], rules, at)
            self.state.mids[symbol] = market.mid
            book = SimBook.from_order_book(market.book, rules)
            self.state.books[symbol] = book
            buy_flow = rules.quantize_quantity(market.buy_flow)
            sell_flow = rules.quantize_quantity(market.sell_flow)
            if market.low is not None and market.high is not None:
                self._match_range(symbol, (market.low, market.high), (buy_flow, sell_flow), at)
            else:
                self._match_resting(symbol, book, (buy_flow, sell_flow), at)

    def _resting(self, symbol: str) -> tuple[list[SimOrder], list[SimOrder]]:
        """Open buys (best price first, then oldest) and sells of `symbol`."""
        resting = [self.state.orders[i] for i in sorted(self._open) if self.state.orders[i].symbol == symbol]
        buys = sorted((o for o in resting if o.side is Side.BUY), key=lambda o: (-o.price, o.order_id))
        sells = sorted((o for o in resting if o.side is Side.SELL), key=lambda o: (o.price, o.order_id))
        return buys, sells

    def _match_range(self, symbol: str, span: tuple[Decimal, Decimal], flows: tuple[Decimal, Decimal],
                     at: datetime) -> None:
        """Fill resting orders the traded range went through, within the tick's flows (maker, own price)."""
        if not self._open:
            return
        low, high = span
        buy_flow, sell_flow = flows
        buys, sells = self._resting(symbol)
        for order in buys:
            if sell_flow <= 0 or order.price <= low:
                break
            qty = min(order.left, sell_flow)
            self._fill(order, order.price, qty, maker=True, at=at)
            sell_flow -= qty
        for order in sells:
            if buy_flow <= 0 or order.price >= high:
                break
            qty = min(order.left, buy_flow)
            self._fill(order, order.price, qty, maker=True, at=at)
            buy_flow -= qty

    def _match_resting(self, symbol: str, book: SimBook, flows: tuple[Decimal, Decimal], at: datetime) -> None:
        buys, sells = self._resting(symbol)
        best_bid = book.bids[0].price if book.bids else None
        best_ask = book.asks[0].price if book.asks else None
        buy_flow, sell_flow = flows
        for order in buys:
            self._consume(order, book.asks, order.price, at, maker=True)
            if order.left > 0 and sell_flow > 0 and best_bid is not None and order.price >= best_bid:
                qty = min(order.left, sell_flow)
                self._fill(order, order.price, qty, maker=True, at=at)
                sell_flow -= qty
        for order in sells:
            self._consume(order, book.bids, order.price, at, maker=True)
            if order.left > 0 and buy_flow > 0 and best_ask is not None and order.price <= best_ask:
                qty = min(order.left, buy_flow)
                self._fill(order, order.price, qty, maker=True, at=at)
                buy_flow -= qty

    def _place_limit(self, order: SimOrder, at: datetime) -> None:
        self._relock(order, self._lock_for(order))
        self._open.add(order.order_id)
        self._consume(order, self.book(order.symbol).side(order.side.opposite), order.price, at, maker=False)

    def _consume(self, order: SimOrder, levels: list[Level], limit: Decimal, at: datetime, *, maker: bool) -> None:
        """Fill `order` against `levels` priced at or through `limit`; makers trade at their own price."""
        while order.left > 0 and levels and _crosses(order.side, levels[0].price, limit):
            level = levels[0]
            qty = min(level.quantity, order.left)
            self._fill(order, order.price if maker else level.price, qty, maker=maker, at=at)
            level.quantity -= qty
            if level.quantity <= 0:
                levels.pop(0)

    def _run_market(self, order: SimOrder, at: datetime) -> None:
        levels = self.book(order.symbol).side(order.side.opposite)
        slip = self.config.market_slippage
        first_fill = len(self.state.fills)
        if levels:
            cap = levels[0].price * ((ONE + slip) if order.side is Side.BUY else (ONE - slip))
            if order.side is Side.BUY:
                self._market_buy(order, levels, cap, at)
            else:
                self._consume(order, levels, cap, at, maker=False)
        fills = [f.report for f in self.state.fills[first_fill:]]
        filled = sum((f.quantity for f in fills), ZERO)
        order.status = _Status.CLOSED if filled > 0 else _Status.CANCELED
        if filled > 0:
            value = sum((f.notional for f in fills), ZERO)
            order.price = quantize_scale(value / filled, self.spec(order.symbol).price_scale, ROUND_HALF_EVEN)
            order.quantity, order.left = filled, ZERO

    def _market_buy(self, order: SimOrder, levels: list[Level], cap: Decimal, at: datetime) -> None:
        spec = self.spec(order.symbol)
        factor = self._buy_lock_factor(spec)
        step = ONE.scaleb(-spec.base_scale)
        budget = order.requested
        while levels and levels[0].price <= cap:
            level = levels[0]
            qty = min(level.quantity, floor_to_scale(budget / (level.price * factor), spec.base_scale))
            while qty > 0 and qty * level.price * factor > budget:
                qty -= step
            if qty <= 0:
                break
            budget -= self._fill(order, level.price, qty, maker=False, at=at)
            level.quantity -= qty
            if level.quantity <= 0:
                levels.pop(0)

    def _fill(self, order: SimOrder, price: Decimal, qty: Decimal, *, maker: bool, at: datetime) -> Decimal:
        """Apply one execution; returns the quote amount debited (buy) or credited (sell)."""
        spec = self.spec(order.symbol)
        notional = price * qty
        fee, tax = fee_and_tax(notional, spec.maker_fee if maker else spec.taker_fee, self.config.tax_rate)
        if order.method is OrderMethod.LIMIT or order.side is Side.SELL:
            order.left = order.left - qty or ZERO
        if order.method is OrderMethod.LIMIT:
            self._relock(order, self._lock_for(order))
            order.status = _Status.CLOSED if order.left == 0 else _Status.PARTIAL
            if order.left == 0:
                self._open.discard(order.order_id)
        base, quote = self._holding(spec.base), self._holding(spec.quote)
        if order.side is Side.BUY:
            amount = notional + fee + tax
            quote.free -= amount
            base.free += qty
        else:
            amount = notional - fee - tax
            base.free -= qty
            quote.free += amount
        trade_id = self.state.next_trade_id
        self.state.next_trade_id += 1
        report = FillReport(
            str(trade_id), order.order_id, order.client_order_id, order.symbol, order.side,
            price, qty, fee, tax, spec.quote, at,
        )  # fmt: skip
        fill = SimFill(report, maker)
        self.state.fills.append(fill)
        self._changes.fills.append(fill)
        order.updated_at = at
        self._touch(order)
        return amount

    def _apply_due_cancels(self, at: datetime) -> None:
        for order_id in sorted(self._open):
            order = self.state.orders[order_id]
            if order.cancel_due is not None and order.cancel_due <= at:
                self._finish_cancel(order, max(order.cancel_due, order.updated_at))

    def _finish_cancel(self, order: SimOrder, at: datetime) -> None:
        self._relock(order, ZERO)
        order.status = _Status.CANCELED
        order.cancel_due = None
        order.updated_at = max(at, order.updated_at)
        self.state.last_event = max(self.state.last_event, order.updated_at)
        self._open.discard(order.order_id)
        self._touch(order)

    def _relock(self, order: SimOrder, target: Decimal) -> None:
        """Move the difference between the order's lock and `target` between free and locked."""
        spec = self.spec(order.symbol)
        holding = self._holding(spec.quote if order.side is Side.BUY else spec.base)
        delta = target - order.locked
        holding.free -= delta
        holding.locked = holding.locked + delta or ZERO  # no "0E-10" residue once nothing is locked
        order.locked = target or ZERO

    def _lock_for(self, order: SimOrder) -> Decimal:
        """A resting buy locks price × left × (1 + taker fee incl. tax); a resting sell its left base."""
        if order.side is Side.SELL:
            return order.left
        return order.price * order.left * self._buy_lock_factor(self.spec(order.symbol))

    def _buy_lock_factor(self, spec: PairSpec) -> Decimal:
        return ONE + spec.taker_fee * (ONE + self.config.tax_rate)

    def _holding(self, asset: str) -> Holding:
        return self.state.holdings.setdefault(asset, Holding(free=ZERO))

    def _stamp(self, now: datetime) -> datetime:
        at = max(now, self.state.last_event)
        self.state.last_event = at
        return at

    def _touch(self, order: SimOrder) -> None:
        self._changes.orders.add(order.order_id)
        self._changes.market = True


def _crosses(side: Side, level_price: Decimal, limit: Decimal) -> bool:
    return level_price <= limit if side is Side.BUY else level_price >= limit
