"""Exit policy (R-STRAT, R-EXEC-8): stop-loss, trailing stop, take-profit and max holding time, sold with a
limit ladder.

The first leg sells at the best bid; each further leg steps `ladder_step_bps` below the current bid. The
ladder never prices below `reference × (1 − max_slippage_bps)`, where the reference is the trigger level
(the stop price for a stop-loss, the trail's trigger price for a trailing stop, the first leg's price
otherwise): when the bid has gapped below that floor the exit is refused (an EXIT_GAP_BEYOND_SLIPPAGE drop)
rather than sold at any price. Fills and fees of every leg land in the same position, so the exit's PnL
counts all of them.

Precedence. The first exit that triggers owns the position's exit legs: once a leg has been placed, every
later leg keeps that leg's kind (and reference) until the position is flat or dust, whatever else triggers
meanwhile, so two exits never place sells for the same position (there is also only one sell intent per
symbol). While no leg exists, the rules are checked each cycle in this order and the first that holds wins:
stop-loss (bid ≤ avg_cost × (1 − stop_loss_bps)), trailing stop (the trail is armed and bid ≤ its trigger
price, see trailing.py), take-profit (bid ≥ avg_cost × (1 + take_profit_bps)), holding time (TTL). Protective
exits come first; an exit refused for a gap places no leg, so the next cycle checks again from the top.

The trailing stop's high-water mark is not moved here: the cycle advances it (trailing.advance_trail, one
writer, persisted) before the strategy runs, and passes the armed `Trail` in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.models import LocalOrder, OrderBook
from btcbot.domain.strategies.trailing import Trail

__all__ = ["LADDER_KINDS", "ExitDecision", "ExitParams", "decide_exit"]

BPS = Decimal(10_000)
LADDER_KINDS = frozenset({"stop_loss", "trailing_stop", "take_profit", "ttl"})


@dataclass(frozen=True, slots=True)
class ExitParams:
    stop_loss_bps: Decimal  # 0 = off
    take_profit_bps: Decimal  # 0 = off
    position_ttl_minutes: int  # 0 = off
    ladder_step_bps: Decimal
    max_slippage_bps: Decimal
    # a trailing stop is on (BTCBOT_TRAILING_STOP_BPS > 0): strategies hold the position for it instead of resting
    # a fixed profit sell that would cap the run; the trail itself (mark, trigger) is passed to decide_exit
    trailing: bool = False


@dataclass(frozen=True, slots=True)
class ExitDecision:
    kind: str
    price: Decimal | None  # None: refused (gap beyond the slippage cap)
    reference: Decimal
    floor: Decimal
    leg: int


def _trigger(position: Position, bid: Decimal, now: datetime, params: ExitParams,
             legs: Sequence[LocalOrder], trail: Trail | None) -> tuple[str, Decimal] | None:
    avg = position.avg_cost
    stop = avg * (1 - params.stop_loss_bps / BPS)
    if legs:  # an exit already started keeps its kind and reference until the position is gone
        kind = legs[0].exit_kind or "ttl"
        # sells release cost pro rata, so avg_cost (and the stop level) is unchanged by partial exits, and a
        # partial sell keeps the trail's mark; other kinds keep the first leg's price (the bid when the exit
        # started) as reference
        if kind == "stop_loss":
            return kind, stop
        if kind == "trailing_stop" and trail is not None:
            return kind, trail.trigger_price
        return kind, legs[0].price
    if params.stop_loss_bps > 0 and bid <= stop:
        return "stop_loss", stop
    if trail is not None and trail.triggered_by(bid):
        return "trailing_stop", trail.trigger_price
    if params.take_profit_bps > 0 and bid >= avg * (1 + params.take_profit_bps / BPS):
        return "take_profit", bid
    if params.position_ttl_minutes > 0 and position.opened_at is not None and (
        now - position.opened_at >= timedelta(minutes=params.position_ttl_minutes)
    ):
        return "ttl", bid
    return None


def decide_exit(position: Position, book: OrderBook, now: datetime, params: ExitParams,
                legs: Sequence[LocalOrder], trail: Trail | None) -> ExitDecision | None:
    """Return the ladder exit for this position now, or None when no exit rule has triggered.

    `legs` are our earlier exit orders (ladder kinds) for this position, oldest first. `trail` is the
    position's armed trailing stop as the cycle left it this cycle (None: off, waiting or not this position).
    """
    bid = book.best_bid
    if bid is None:
        return None
    if trail is not None and trail.opened_at != position.opened_at:
        trail = None  # a mark of an earlier position never applies to this one
    trigger = _trigger(position, bid, now, params, legs, trail)
    if trigger is None:
        return None
    kind, reference = trigger
    floor = reference * (1 - params.max_slippage_bps / BPS)
    leg = len(legs)
    price = bid * (1 - leg * params.ladder_step_bps / BPS)
    if bid < floor:
        return ExitDecision(kind, None, reference, floor, leg)
    return ExitDecision(kind, max(price, floor), reference, floor, leg)
