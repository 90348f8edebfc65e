"""Trailing stop (issue 11): a persisted high-water mark per open position, moved by exactly one writer.

Pure. The cycle calls `advance_trail` once per position per cycle, before the strategy, with the persisted
`Trail` (or None) and the cycle's book, and persists what comes back together with its events in one
transaction. The exit policy (`exits.decide_exit`) only reads the result: `bid <= trail.trigger_price`.

States of one open position:

    off      BTCBOT_TRAILING_STOP_BPS = 0: no mark is kept (a mark left from before is cleared).
    waiting  the trail has not armed yet: no mark.
    armed    `mark` = highest best bid since the trail armed; `trigger_price` = mark × (1 − stop_bps/10⁴).

- **Arming.** BTCBOT_TRAILING_ACTIVATION_BPS = 0 arms at once (on the first cycle that sees the position).
  Otherwise the trail arms when the profit over the average cost, fees included, reaches activation_bps:
  bid × (1 − taker fee × (1 + VAT)) ≥ avg_cost × (1 + activation_bps/10⁴) (`avg_cost` already holds the buy
  fees and tax; the sell's worst-case fee is taken off the bid). Once armed the trail stays armed until
  the position is gone, even if the price falls back below the activation level.
- **Mark.** Raised to the best bid whenever the bid is higher; never lowered while the position stays open
  (a partial sell, or a further buy, keeps it).
- **Reset** (the mark is deleted): the position is flat; it is dust (worth less than the pair's minimum
  order value at the bid: it cannot be sold and the strategy treats it as flat); a new position opened
  (another `opened_at`); or trailing was switched off. The next position starts fresh.
- **No bid** for the symbol this cycle (stale or missing book): nothing changes.

Events (kinds in `EventKind`): TRAIL_ARMED; TRAIL_MARK_RAISED each time the mark has risen at least
MARK_LOG_STEP_BPS above the last logged mark (the mark itself is persisted on every rise; the log keeps a
readable trace, not one row per tick); TRAIL_TRIGGERED on the first cycle the bid is at or below the trigger
price (again only after a new high); TRAIL_RESET with the reason as its code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from btcbot.domain.accounting import Position
from btcbot.domain.events import Event, EventKind
from btcbot.domain.fees import fee_schedule
from btcbot.domain.models import OrderBook
from btcbot.domain.money import ZERO, ceil_to_scale, dec_str
from btcbot.domain.symbols import SymbolRules

__all__ = [
    "MARK_LOG_STEP_BPS",
    "Trail",
    "TrailParams",
    "TrailStep",
    "activation_price",
    "advance_trail",
    "is_dust",
]

BPS = Decimal(10_000)
MARK_LOG_STEP_BPS = Decimal(25)  # a TRAIL_MARK_RAISED event each time the mark gains 0.25 % over the last one


@dataclass(frozen=True, slots=True)
class TrailParams:
    stop_bps: Decimal = ZERO  # 0 = off
    activation_bps: Decimal = ZERO  # 0 = armed at once

    @property
    def enabled(self) -> bool:
        return self.stop_bps > 0


@dataclass(frozen=True, slots=True)
class Trail:
    """The armed trail of one open position (the persisted row). `opened_at` names the position it
    belongs to; `logged_mark` is the mark last written to an event."""

    symbol: str
    opened_at: datetime
    mark: Decimal
    stop_bps: Decimal
    armed_at: datetime
    logged_mark: Decimal
    triggered_at: datetime | None = None

    @property
    def trigger_price(self) -> Decimal:
        return self.mark * (1 - self.stop_bps / BPS)

    def triggered_by(self, bid: Decimal) -> bool:
        return bid <= self.trigger_price


@dataclass(frozen=True, slots=True)
class TrailStep:
    """What one cycle does to a position's trail: the new state (None = no mark) and its events."""

    trail: Trail | None
    events: tuple[Event, ...] = ()


def is_dust(position: Position, bid: Decimal, rules: SymbolRules) -> bool:
    """Worth less than the pair's minimum order value at the bid: cannot be sold, so it counts as flat."""
    return position.quantity * bid < rules.min_notional


def activation_price(position: Position, quote: str, params: TrailParams) -> Decimal | None:
    """The best bid at which the trail arms (None: armed at once, activation 0)."""
    if params.activation_bps <= 0:
        return None
    return position.avg_cost * (1 + params.activation_bps / BPS) / (1 - fee_schedule(quote).headroom)


def advance_trail(previous: Trail | None, position: Position | None, book: OrderBook | None,
                  rules: SymbolRules | None, now: datetime, params: TrailParams) -> TrailStep:
    """One cycle of the trail of one symbol: reset, arm, raise the mark, detect the trigger."""
    if not params.enabled:
        return _reset(previous, "TRAILING_OFF")
    if position is None or position.is_flat or position.opened_at is None:
        return _reset(previous, "POSITION_FLAT")
    if previous is not None and previous.opened_at != position.opened_at:
        step = _reset(previous, "NEW_POSITION")
        following = advance_trail(None, position, book, rules, now, params)
        return TrailStep(following.trail, step.events + following.events)
    bid = book.best_bid if book is not None else None
    if bid is None or bid <= 0 or rules is None:
        return TrailStep(previous)  # no price this cycle: the mark stays as it is
    if is_dust(position, bid, rules):
        return _reset(previous, "POSITION_DUST", bid=bid)
    if previous is None:
        return _arm(position, position.opened_at, bid, rules, now, params)
    return _follow(previous, position, bid, now, params)


def _arm(position: Position, opened_at: datetime, bid: Decimal, rules: SymbolRules, now: datetime,
         params: TrailParams) -> TrailStep:
    threshold = activation_price(position, rules.quote, params)
    if threshold is not None and bid < threshold:
        return TrailStep(None)  # waiting for activation
    trail = Trail(position.symbol, opened_at, bid, params.stop_bps, now, bid)
    code = "ARMED_AT_ONCE" if threshold is None else "ACTIVATION_REACHED"
    detail = _detail(trail, bid, position)
    detail["activation_price"] = dec_str(ceil_to_scale(threshold, 8)) if threshold is not None else ""
    return TrailStep(trail, (Event(EventKind.TRAIL_ARMED, code, position.symbol, detail=detail),))


def _follow(trail: Trail, position: Position, bid: Decimal, now: datetime, params: TrailParams) -> TrailStep:
    events: list[Event] = []
    if trail.stop_bps != params.stop_bps:
        trail = replace(trail, stop_bps=params.stop_bps)
    if bid > trail.mark:
        trail = replace(trail, mark=bid, triggered_at=None)  # a new high re-arms the trigger's event
        if bid >= trail.logged_mark * (1 + MARK_LOG_STEP_BPS / BPS):
            events.append(Event(EventKind.TRAIL_MARK_RAISED, "MARK_STEP", trail.symbol,
                                detail=dict(_detail(trail, bid, position), previous=dec_str(trail.logged_mark))))
            trail = replace(trail, logged_mark=bid)
    if trail.triggered_by(bid) and trail.triggered_at is None:
        trail = replace(trail, triggered_at=now)
        events.append(Event(EventKind.TRAIL_TRIGGERED, "BID_AT_OR_BELOW_TRIGGER", trail.symbol,
                            detail=_detail(trail, bid, position)))
    return TrailStep(trail, tuple(events))


def _reset(previous: Trail | None, reason: str, bid: Decimal | None = None) -> TrailStep:
    if previous is None:
        return TrailStep(None)
    detail = {"mark": dec_str(previous.mark), "opened_at": previous.opened_at.isoformat()}
    if bid is not None:
        detail["bid"] = dec_str(bid)
    return TrailStep(None, (Event(EventKind.TRAIL_RESET, reason, previous.symbol, detail=detail),))


def _detail(trail: Trail, bid: Decimal, position: Position) -> dict[str, str]:
    return {"mark": dec_str(trail.mark), "trigger_price": dec_str(trail.trigger_price), "bid": dec_str(bid),
            "avg_cost": dec_str(position.avg_cost), "stop_bps": dec_str(trail.stop_bps),
            "opened_at": trail.opened_at.isoformat()}
