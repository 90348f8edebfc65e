"""What a cycle knows about the market and the account when it decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from btcbot.domain.models import Balance, OrderBook
from btcbot.domain.symbols import SymbolRules

__all__ = ["MarketSnapshot"]


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Books and rules of the tradable symbols; symbols with stale/missing data are left out."""

    now: datetime
    books: dict[str, OrderBook]
    rules: dict[str, SymbolRules]
    balances: dict[str, Balance] | None  # None: private balances could not be read (R-SAFE-3)
    stale: dict[str, str] = field(default_factory=dict)  # symbol -> reason

    def free(self, asset: str) -> Decimal:
        if self.balances is None or asset not in self.balances:
            return Decimal(0)
        return self.balances[asset].free

    def quote_to_try(self, quote: str) -> Decimal | None:
        """Price of one unit of `quote` in TRY (1 for TRY; USDTTRY mid for USDT)."""
        if quote == "TRY":
            return Decimal(1)
        book = self.books.get(f"{quote}TRY")
        return book.mid if book is not None else None
