"""Stage-7 default strategy "target allocation" (R-STRAT, SPEC §8). Pure.

Each managed asset has a target weight: a share of the account's equity in TRY. The bot's holding of an asset
is its *position* (the net of its own fills in the pairs with that base asset), valued at the best bid: the bot
never sells coins it did not buy. Per asset, each cycle:

- target = min(weight × equity, `max_position_notional_try`); gap = target − holding;
- |gap| ≤ `band_bps`/10⁴ × equity → inside the rebalance band: no order;
- gap > 0 → a LIMIT BUY at the best bid, gap < 0 → a LIMIT SELL at the best ask (the touch), each for at most
  `max_order_notional_try`; buys share `max_cycle_notional_try` (water-filling: small gaps are served whole,
  the rest split evenly), sells never exceed the position.

The pair of an asset is the first configured pair with that base (a TRY-quoted one preferred). Equity is the
TRY value of the balances of TRY and of the assets of the configured pairs (other assets are ignored); when
one of those balances cannot be priced this cycle, nothing is decided.

Intents that cannot be made are returned as skipped intents (`meta[SKIP]`, see strategies/__init__.py) with
a reason code: RULES_MISSING, RULES_NOT_TRADABLE, PRICE_UNAVAILABLE, PRICE_NO_CONVERSION, BALANCE_UNAVAILABLE,
EQUITY_UNPRICED, NOTIONAL_BELOW_MIN, NOTIONAL_CYCLE_CAP. A skip whose direction is not known yet is a buy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Intent, LocalOrder, Side
from btcbot.domain.money import ZERO, dec_str
from btcbot.domain.strategies import SKIP
from btcbot.domain.symbols import split_symbol

__all__ = [
    "DEFAULT_TOTAL_WEIGHT",
    "DEFAULT_WEIGHT",
    "AllocationParams",
    "TargetAllocation",
    "account_equity",
    "default_weights",
    "trading_symbol",
]

BPS = Decimal(10_000)
DEFAULT_WEIGHT = Decimal("0.03")  # per base asset of the configured pairs, when no weights are configured ...
DEFAULT_TOTAL_WEIGHT = Decimal("0.5")  # ... scaled down so that the default weights never add up to more
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class AllocationParams:
    weights: Mapping[str, Decimal]  # asset -> share of equity; assets not listed are not managed
    band_bps: Decimal
    symbols: tuple[str, ...]  # the configured pairs, in configured order
    max_order_notional_try: Decimal
    max_cycle_notional_try: Decimal
    max_position_notional_try: Decimal


def default_weights(symbols: Sequence[str]) -> dict[str, Decimal]:
    """3% of equity in the base asset of each configured pair (at most 50% in all)."""
    bases = list(dict.fromkeys(split_symbol(s)[0] for s in symbols))
    if not bases:
        return {}
    share = (DEFAULT_TOTAL_WEIGHT / len(bases)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    return {base: min(DEFAULT_WEIGHT, share) for base in bases}


def trading_symbol(asset: str, symbols: Sequence[str]) -> str | None:
    """The configured pair an asset is traded in: the first with that base, TRY-quoted ones first."""
    candidates = [s for s in symbols if split_symbol(s)[0] == asset]
    in_try = [s for s in candidates if split_symbol(s)[1] == "TRY"]
    ordered = in_try or candidates
    return ordered[0] if ordered else None


def _price_try(asset: str, snapshot: MarketSnapshot, symbols: Sequence[str]) -> Decimal | None:
    """One unit of `asset` in TRY at the best bid (TRY itself is 1)."""
    if asset == "TRY":
        return Decimal(1)
    book = snapshot.books.get(f"{asset}TRY")
    if book is not None and book.best_bid is not None:
        return book.best_bid
    for symbol in symbols:
        base, quote = split_symbol(symbol)
        other = snapshot.books.get(symbol)
        rate = snapshot.quote_to_try(quote)
        if base == asset and other is not None and other.best_bid is not None and rate is not None:
            return other.best_bid * rate
    return None


def account_equity(snapshot: MarketSnapshot, symbols: Sequence[str]) -> tuple[Decimal | None, tuple[str, ...]]:
    """(equity in TRY, assets that could not be priced). Equity is None when balances are unknown."""
    if snapshot.balances is None:
        return None, ()
    managed = {"TRY"} | {asset for s in symbols for asset in split_symbol(s)}
    equity, unpriced = ZERO, []
    for asset, balance in sorted(snapshot.balances.items()):
        if asset not in managed or balance.total == 0:
            continue
        price = _price_try(asset, snapshot, symbols)
        if price is None:
            unpriced.append(asset)
        else:
            equity += balance.total * price
    return equity, tuple(unpriced)


@dataclass(frozen=True, slots=True)
class _Gap:
    asset: str
    symbol: str
    gap_try: Decimal  # target − holding
    mark: Decimal  # one unit of the asset in TRY (what the holding is valued at)
    rate: Decimal  # one unit of the pair's quote in TRY
    min_try: Decimal  # the pair's minimum order value in TRY
    meta: dict[str, str]


def _skip(symbol: str, code: str, side: Side = Side.BUY, price: Decimal = ZERO, **detail: object) -> Intent:
    meta = {k: dec_str(v) if isinstance(v, Decimal) else str(v) for k, v in detail.items()}
    return Intent(symbol, side, price, ZERO, "allocation_skipped", meta={SKIP: code, **meta})


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT)


@dataclass(frozen=True, slots=True)
class TargetAllocation:
    params: AllocationParams
    name: str = "target_allocation"

    def decide(self, snapshot: MarketSnapshot, positions: Mapping[str, Position],
               exit_legs: Mapping[str, Sequence[LocalOrder]] | None = None,
               trails: Mapping[str, object] | None = None) -> list[Intent]:
        """Exit legs and trailing stops are not used: allocation has no exit ladder or trailing stop."""
        equity, unpriced = account_equity(snapshot, self.params.symbols)
        intents: list[Intent] = []
        buys: list[_Gap] = []
        for asset, weight in sorted(self.params.weights.items()):
            gap = self._gap(asset, weight, snapshot, positions, equity, unpriced)
            if isinstance(gap, Intent):
                intents.append(gap)
            elif gap is not None and gap.gap_try > 0:
                buys.append(gap)
            elif gap is not None:
                intents.append(self._sell(gap, snapshot, positions))
        intents += self._buys(buys, snapshot)
        return sorted(intents, key=lambda i: (i.symbol, i.side.value))

    def _gap(self, asset: str, weight: Decimal, snapshot: MarketSnapshot, positions: Mapping[str, Position],
             equity: Decimal | None, unpriced: tuple[str, ...]) -> _Gap | Intent | None:
        """The asset's gap to its target, a skipped intent saying why there is none, or None (in band)."""
        symbols = self.params.symbols
        symbol = trading_symbol(asset, symbols) or f"{asset}TRY"
        rules, book = snapshot.rules.get(symbol), snapshot.books.get(symbol)
        if rules is None:
            return _skip(symbol, "RULES_MISSING", asset=asset)
        if not rules.tradable:
            return _skip(symbol, "RULES_NOT_TRADABLE", asset=asset)
        if book is None or book.best_bid is None or book.best_ask is None:
            return _skip(symbol, "PRICE_UNAVAILABLE", reason=snapshot.stale.get(symbol, "no order book"))
        if equity is None:
            return _skip(symbol, "BALANCE_UNAVAILABLE", reason="equity unknown: balances could not be read")
        if unpriced:
            return _skip(symbol, "EQUITY_UNPRICED", assets=",".join(unpriced))
        rate, price = snapshot.quote_to_try(rules.quote), _price_try(asset, snapshot, symbols)
        if rate is None or rate <= 0 or price is None:
            return _skip(symbol, "PRICE_NO_CONVERSION", quote=rules.quote)
        held = sum((positions[s].quantity for s in symbols if s in positions and split_symbol(s)[0] == asset), ZERO)
        holding, target = held * price, min(weight * equity, self.params.max_position_notional_try)
        if abs(target - holding) <= self.params.band_bps / BPS * equity:
            return None
        meta = {"weight": dec_str(weight), "equity_try": dec_str(_cents(equity)),
                "target_try": dec_str(_cents(target)), "holding_try": dec_str(_cents(holding))}
        return _Gap(asset, symbol, target - holding, price, rate, rules.min_notional * rate, meta)

    def _buys(self, gaps: list[_Gap], snapshot: MarketSnapshot) -> list[Intent]:
        """Buys at the best bid; the cycle budget is water-filled over them (smallest wants served first)."""
        cap = self.params.max_order_notional_try
        budget, intents = self.params.max_cycle_notional_try, []
        ordered = sorted(gaps, key=lambda g: (min(g.gap_try, cap), g.symbol))
        for index, gap in enumerate(ordered):
            bid = snapshot.books[gap.symbol].best_bid
            assert bid is not None
            want = min(gap.gap_try, cap)
            if want < gap.min_try:
                intents.append(_skip(gap.symbol, "NOTIONAL_BELOW_MIN", price=bid, gap_try=_cents(gap.gap_try),
                                     min_notional_try=_cents(gap.min_try)))
                continue
            size = min(want, budget / (len(ordered) - index))
            if size < gap.min_try:
                intents.append(_skip(gap.symbol, "NOTIONAL_CYCLE_CAP", price=bid, share_try=_cents(size),
                                     max_cycle_notional_try=self.params.max_cycle_notional_try))
                continue
            budget -= size
            intents.append(Intent(gap.symbol, Side.BUY, bid, size / gap.rate / bid, "allocation_buy",
                                  reference_price=snapshot.books[gap.symbol].best_ask, meta=gap.meta))
        return intents

    def _sell(self, gap: _Gap, snapshot: MarketSnapshot, positions: Mapping[str, Position]) -> Intent:
        """A sell of the excess (in base units at the mark) at the best ask, at most one order's cap and never
        more than the position: a target of 0 sells the whole position."""
        book = snapshot.books[gap.symbol]
        ask = book.best_ask
        assert ask is not None
        position = positions.get(gap.symbol)
        held = position.quantity if position is not None else ZERO
        quantity = min(-gap.gap_try / gap.mark, self.params.max_order_notional_try / gap.rate / ask, held)
        if quantity * ask * gap.rate < gap.min_try:
            return _skip(gap.symbol, "NOTIONAL_BELOW_MIN", Side.SELL, ask, excess_try=_cents(-gap.gap_try),
                         position=held, min_notional_try=_cents(gap.min_try))
        return Intent(gap.symbol, Side.SELL, ask, quantity, "allocation_sell", exit_kind="rebalance",
                      reference_price=book.best_bid, meta=gap.meta)
