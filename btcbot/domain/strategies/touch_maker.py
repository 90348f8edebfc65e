"""Stage-4 default strategy "touch maker" (R-STRAT): maker orders at the touch, followed by replacing.

Per symbol with a usable book, aiming at a position worth `order_notional_try`:
- whatever profit capture (stage 3) would sell is sold the same way: the holding at max(best ask, avg_cost ×
  (1 + min_profit_bps/10⁴)), or a triggered exit (`decide_exit`: stop-loss, take-profit, holding time, with the
  same ladder and caps), so every exit rule of stage 3 applies unchanged;
- and, unless an exit is running, a BUY at the best bid for what is missing to the target (target − held value).
  A partial fill shrinks the wanted size, so the resting buy is replaced at the new size (the planner's quantity
  trigger, on for stage 4), while the part already bought is offered for sale at once.
The planner keeps each order while it matches, and replaces it when the touch moves more than
`stale_price_bps`, when it ages past `stale_order_seconds`, or when the wanted size changes. A remainder below the
pair's minimum order value is not bought.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from btcbot.domain.accounting import Position
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Intent, LocalOrder, Side
from btcbot.domain.money import ZERO
from btcbot.domain.strategies.profit_capture import ProfitCapture, ProfitCaptureParams
from btcbot.domain.strategies.trailing import Trail

__all__ = ["TouchMaker"]


@dataclass(frozen=True, slots=True)
class TouchMaker:
    params: ProfitCaptureParams  # `order_notional_try` is the target position's value
    name: str = "touch_maker"

    def decide(self, snapshot: MarketSnapshot, positions: Mapping[str, Position],
               exit_legs: Mapping[str, Sequence[LocalOrder]] | None = None,
               trails: Mapping[str, Trail] | None = None) -> list[Intent]:
        target = self.params.order_notional_try
        sells = [i for i in ProfitCapture(self.params).decide(snapshot, positions, exit_legs, trails)
                 if i.side is Side.SELL]
        exiting = {i.symbol for i in sells if i.exit_kind != "profit"}
        intents: list[Intent] = []
        for symbol, book in sorted(snapshot.books.items()):
            intents += [i for i in sells if i.symbol == symbol]
            rules = snapshot.rules.get(symbol)
            rate = snapshot.quote_to_try(rules.quote) if rules is not None else None
            bid = book.best_bid
            if symbol in exiting or rules is None or bid is None or bid <= 0 or not rate or rate <= 0:
                continue
            position = positions.get(symbol)
            held = position.quantity if position is not None else ZERO
            missing = target / rate - held * bid
            if missing >= rules.min_notional:
                intents.append(Intent(symbol, Side.BUY, bid, missing / bid, "touch_maker_buy",
                                      reference_price=book.best_ask))
        return intents
