"""Strategies: pure functions of (snapshot, positions, settings, now) -> intents.

A strategy that considered an order and decided it cannot be made (no price, rules, a notional below the
minimum...) returns it as a *skipped* intent: `meta[SKIP]` holds the reason code (`CATEGORY_CONDITION`) and the
other meta keys its detail. The risk filter drops it with that code, so the reason is an event like any drop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from btcbot.domain.accounting import Position
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Intent, LocalOrder
from btcbot.domain.strategies.trailing import Trail

__all__ = ["SKIP", "Strategy"]

SKIP = "skip"  # Intent.meta key: the reason code of a skipped intent


class Strategy(Protocol):
    @property
    def name(self) -> str: ...

    def decide(self, snapshot: MarketSnapshot, positions: Mapping[str, Position],
               exit_legs: Mapping[str, Sequence[LocalOrder]] | None = None,
               trails: Mapping[str, Trail] | None = None) -> list[Intent]:
        """Return what the strategy wants now; never rounds (quantization belongs to the symbol).

        `exit_legs` are earlier exit-ladder orders per symbol since the position opened, oldest first.
        `trails` are the armed trailing stops per symbol as the cycle left them this cycle (pass each to
        `exits.decide_exit`; the strategy never moves a mark)."""
        ...
