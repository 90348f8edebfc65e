"""The one writer of trailing-stop marks: a generic cycle step run before the strategy (issue 11).

Stage-agnostic: every stage's cycle runs it with the same settings (BTCBOT_TRAILING_STOP_BPS,
BTCBOT_TRAILING_ACTIVATION_BPS); the rules live in `domain/strategies/trailing.py`, this module only loads,
calls and persists. Each change of a mark is written together with its events in one transaction.
"""

from __future__ import annotations

from datetime import datetime

from btcbot.adapters.sqlite.store import Store, iso
from btcbot.config import Settings
from btcbot.domain.accounting import Position
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.money import ceil_to_scale, dec_str
from btcbot.domain.strategies.trailing import Trail, TrailParams, activation_price, advance_trail
from btcbot.domain.symbols import split_symbol

__all__ = ["advance_trails", "trail_params", "trail_view"]


def trail_params(settings: Settings) -> TrailParams:
    return TrailParams(settings.trailing_stop_bps, settings.trailing_activation_bps)


def advance_trails(store: Store, snapshot: MarketSnapshot, positions: dict[str, Position], params: TrailParams,
                   cycle_id: int, now: datetime) -> dict[str, Trail]:
    """Move every position's trail once from this cycle's books; return the armed trails by symbol."""
    previous = store.trails()
    armed: dict[str, Trail] = {}
    open_symbols = {s for s, p in positions.items() if not p.is_flat}
    for symbol in sorted(set(previous) | open_symbols):
        before = previous.get(symbol)
        step = advance_trail(before, positions.get(symbol), snapshot.books.get(symbol), snapshot.rules.get(symbol),
                             now, params)
        if step.trail != before or step.events:
            store.save_trail(symbol, step.trail, step.events, cycle_id, now)
        if step.trail is not None:
            armed[symbol] = step.trail
    return armed


def trail_view(position: Position, trail: Trail | None, params: TrailParams) -> dict[str, str | None]:
    """The trail of one position for `status` (read-only): state off / flat / waiting / armed, and prices."""
    view: dict[str, str | None] = {"trail_state": "off", "trail_mark": None, "trail_trigger_price": None,
                                   "trail_activation_price": None, "trail_armed_at": None,
                                   "trail_triggered_at": None}
    if not params.enabled:
        return view
    if position.is_flat or position.opened_at is None:
        return {**view, "trail_state": "flat"}
    if trail is None or trail.opened_at != position.opened_at:
        threshold = activation_price(position, split_symbol(position.symbol)[1], params)
        return {**view, "trail_state": "waiting",
                "trail_activation_price": dec_str(ceil_to_scale(threshold, 8)) if threshold is not None else None}
    return {**view, "trail_state": "armed", "trail_mark": dec_str(trail.mark),
            "trail_trigger_price": dec_str(trail.trigger_price), "trail_armed_at": iso(trail.armed_at),
            "trail_triggered_at": iso(trail.triggered_at) if trail.triggered_at else None}
