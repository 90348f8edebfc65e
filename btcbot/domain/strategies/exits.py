"""Exit policy (R-STRAT, R-EXEC-8): stop-loss, take-profit and max holding time, sold with a limit ladder.

The first leg sells at the best bid; each further leg steps `ladder_step_bps` below the current bid. The
ladder never prices below `reference × (1 − max_slippage_bps)`, where the reference is the trigger level
(the stop price for a stop-loss, the first leg's price otherwise): when the bid has gapped below that floor
the exit is refused (an EXIT_GAP_BEYOND_SLIPPAGE drop) rather than sold at any price. Fills and fees of
every leg land in the same position, so the exit's PnL counts all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.models import LocalOrder, OrderBook

__all__ = ["LADDER_KINDS", "ExitDecision", "ExitParams", "decide_exit"]

BPS = Decimal(10_000)
LADDER_KINDS = frozenset({"stop_loss", "take_profit", "ttl"})


@dataclass(frozen=True, slots=True)
class ExitParams:
    stop_loss_bps: Decimal  # 0 = off
    take_profit_bps: Decimal  # 0 = off
    position_ttl_minutes: int  # 0 = off
    ladder_step_bps: Decimal
    max_slippage_bps: Decimal


@dataclass(frozen=True, slots=True)
class ExitDecision:
    kind: str
    price: Decimal | None  # None: refused (gap beyond the slippage cap)
    reference: Decimal
    floor: Decimal
    leg: int


def _trigger(position: Position, bid: Decimal, now: datetime, params: ExitParams,
             legs: Sequence[LocalOrder]) -> tuple[str, Decimal] | None:
    avg = position.avg_cost
    stop = avg * (1 - params.stop_loss_bps / BPS)
    if legs:  # an exit already started keeps its kind and reference until the position is gone
        kind = legs[0].exit_kind or "ttl"
        # sells release cost pro rata, so avg_cost (and the stop level) is unchanged by partial exits;
        # other kinds keep the first leg's price (the bid when the exit started) as reference
        return kind, stop if kind == "stop_loss" else legs[0].price
    if params.stop_loss_bps > 0 and bid <= stop:
        return "stop_loss", stop
    if params.take_profit_bps > 0 and bid >= avg * (1 + params.take_profit_bps / BPS):
        return "take_profit", bid
    if params.position_ttl_minutes > 0 and position.opened_at is not None and (
        now - position.opened_at >= timedelta(minutes=params.position_ttl_minutes)
    ):
        return "ttl", bid
    return None


def decide_exit(position: Position, book: OrderBook, now: datetime, params: ExitParams,
                legs: Sequence[LocalOrder]) -> ExitDecision | None:
    """Return the ladder exit for this position now, or None when no exit rule has triggered.

    `legs` are our earlier exit orders (ladder kinds) for this position, oldest first.
    """
    bid = book.best_bid
    if bid is None:
        return None
    trigger = _trigger(position, bid, now, params, legs)
    if trigger is None:
        return None
    kind, reference = trigger
    floor = reference * (1 - params.max_slippage_bps / BPS)
    leg = len(legs)
    price = bid * (1 - leg * params.ladder_step_bps / BPS)
    if bid < floor:
        return ExitDecision(kind, None, reference, floor, leg)
    return ExitDecision(kind, max(price, floor), reference, floor, leg)
