"""Stage-4 default strategy "touch maker" (R-STRAT): maker orders at the touch, followed by replacing.

Per symbol with a usable book, aiming at a position worth `position_target_try`:
- BUY at the best bid for what is missing to the target (target − held value); a partial fill shrinks the
  wanted size, so the resting buy is replaced at the new size (the planner's quantity trigger, stage 4);
- SELL what is held at the best ask, never below `avg_cost × (1 + min_profit_bps/10⁴)` (the sell-side
  minimum-profit rule of the stage-4 risk filter is the safety net below that);
- a triggered stop-loss / take-profit / holding-time exit (`decide_exit`, the same ladder and caps as
  stage 3) replaces the profit sell, and no buy is placed while it runs.
The planner keeps each order while it matches, and replaces it when the touch moves more than
`stale_price_bps`, when it ages past `stale_order_seconds`, or when the wanted size changes. Amounts below the
pair's minimum order value are not wanted (a remainder that small is left alone, a holding that small is dust).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Intent, LocalOrder, OrderBook, Side
from btcbot.domain.money import ZERO
from btcbot.domain.strategies.exits import ExitParams, decide_exit
from btcbot.domain.strategies.profit_capture import exit_intent
from btcbot.domain.symbols import SymbolRules

__all__ = ["TouchMaker", "TouchMakerParams"]

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class TouchMakerParams:
    position_target_try: Decimal
    min_profit_bps: Decimal
    exits: ExitParams | None = None


@dataclass(frozen=True, slots=True)
class TouchMaker:
    params: TouchMakerParams
    name: str = "touch_maker"

    def decide(self, snapshot: MarketSnapshot, positions: Mapping[str, Position],
               exit_legs: Mapping[str, Sequence[LocalOrder]] | None = None) -> list[Intent]:
        intents: list[Intent] = []
        for symbol, book in sorted(snapshot.books.items()):
            rules = snapshot.rules.get(symbol)
            rate = snapshot.quote_to_try(rules.quote) if rules is not None else None
            if rules is None or book.best_bid is None or book.best_ask is None or not rate or rate <= 0:
                continue
            position = positions.get(symbol)
            intents += self._symbol(symbol, book, rules, rate, position, (exit_legs or {}).get(symbol, ()),
                                    snapshot)
        return intents

    def _symbol(self, symbol: str, book: OrderBook, rules: SymbolRules, rate: Decimal, position: Position | None,
                legs: Sequence[LocalOrder], snapshot: MarketSnapshot) -> list[Intent]:
        assert book.best_bid is not None and book.best_ask is not None
        held = position.quantity if position is not None else ZERO
        out: list[Intent] = []
        if position is not None and held * book.best_bid >= rules.min_notional:
            exits = self.params.exits
            exit_ = decide_exit(position, book, snapshot.now, exits, legs) if exits is not None else None
            if exit_ is not None:
                return [exit_intent(symbol, held, exit_)]
            target = position.avg_cost * (1 + self.params.min_profit_bps / BPS)
            out.append(Intent(symbol, Side.SELL, max(book.best_ask, target), held, "touch_maker_sell",
                              exit_kind="profit", reference_price=book.best_bid))
        missing = self.params.position_target_try / rate - held * book.best_bid
        if missing >= rules.min_notional:
            out.append(Intent(symbol, Side.BUY, book.best_bid, missing / book.best_bid, "touch_maker_buy",
                              reference_price=book.best_ask))
        return out
