"""Strategies: pure functions of (snapshot, positions, settings, now) -> intents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from btcbot.domain.accounting import Position
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Intent, LocalOrder
from btcbot.domain.strategies.trailing import Trail

__all__ = ["Strategy"]


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
