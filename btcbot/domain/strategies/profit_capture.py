"""Stage-3 default strategy "profit capture" (R-STRAT).

No position → limit BUY at the best bid for `order_notional_try` (converted to the pair's quote).
A position → limit SELL of the whole position at max(best ask, avg_cost × (1 + min_profit_bps/10⁴)).
A position worth less than the pair's minimum order value is dust: it cannot be sold, so it counts as flat.
With exit parameters, a triggered stop-loss / take-profit / holding-time exit replaces the profit sell and is
priced by the exit ladder (see exits.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Intent, LocalOrder, Side
from btcbot.domain.money import ZERO
from btcbot.domain.strategies.exits import ExitDecision, ExitParams, decide_exit

__all__ = ["ProfitCapture", "ProfitCaptureParams"]

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class ProfitCaptureParams:
    order_notional_try: Decimal
    min_profit_bps: Decimal
    exits: ExitParams | None = None


@dataclass(frozen=True, slots=True)
class ProfitCapture:
    params: ProfitCaptureParams
    name: str = "profit_capture"

    def decide(self, snapshot: MarketSnapshot, positions: Mapping[str, Position],
               exit_legs: Mapping[str, Sequence[LocalOrder]] | None = None) -> list[Intent]:
        intents: list[Intent] = []
        for symbol, book in sorted(snapshot.books.items()):
            rules = snapshot.rules.get(symbol)
            if rules is None or book.best_bid is None or book.best_ask is None:
                continue
            position = positions.get(symbol)
            held = position.quantity if position is not None else ZERO
            if position is not None and held * book.best_bid >= rules.min_notional:
                legs = (exit_legs or {}).get(symbol, ())
                exits = self.params.exits
                exit_ = decide_exit(position, book, snapshot.now, exits, legs) if exits is not None else None
                if exit_ is not None:
                    intents.append(_exit_intent(symbol, held, exit_))
                    continue
                target = position.avg_cost * (1 + self.params.min_profit_bps / BPS)
                price = max(book.best_ask, target)
                intents.append(Intent(symbol, Side.SELL, price, held, "profit_capture_exit",
                                      exit_kind="profit", reference_price=book.best_bid))
                continue
            rate = snapshot.quote_to_try(rules.quote)
            if rate is None or rate <= 0:
                continue
            notional = self.params.order_notional_try / rate
            intents.append(Intent(symbol, Side.BUY, book.best_bid, notional / book.best_bid,
                                  "profit_capture_entry", reference_price=book.best_ask))
        return intents


def _exit_intent(symbol: str, held: Decimal, exit_: ExitDecision) -> Intent:
    meta = {"reference": str(exit_.reference), "floor": str(exit_.floor), "leg": str(exit_.leg)}
    if exit_.price is None:  # refused: the risk filter drops it with EXIT_GAP_BEYOND_SLIPPAGE
        return Intent(symbol, Side.SELL, exit_.floor, held, f"{exit_.kind}_exit_refused", exit_kind=exit_.kind,
                      reference_price=exit_.reference, meta=dict(meta, refused="gap"))
    return Intent(symbol, Side.SELL, exit_.price, held, f"{exit_.kind}_exit", exit_kind=exit_.kind,
                  reference_price=exit_.reference, meta=meta)
