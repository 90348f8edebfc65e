"""Strategies: pure functions of (snapshot, positions, settings, now) -> intents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from btcbot.domain.accounting import Position
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Intent

__all__ = ["Strategy"]


class Strategy(Protocol):
    name: str

    def decide(self, snapshot: MarketSnapshot, positions: Mapping[str, Position]) -> list[Intent]:
        """Return what the strategy wants now; never rounds (quantization belongs to the symbol)."""
        ...
