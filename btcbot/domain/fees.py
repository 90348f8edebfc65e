"""BTCTurk fee schedule (public tier 1, 2026; btcturk-api.md §7.3). Fees are charged in the quote asset
and VAT (`tax`) is 18% of the fee."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["VAT_RATE", "FeeSchedule", "fee_schedule"]

VAT_RATE = Decimal("0.18")


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    maker: Decimal
    taker: Decimal

    @property
    def headroom(self) -> Decimal:
        """Fraction of a buy's notional to keep free for the worst-case (taker) fee plus VAT."""
        return self.taker * (1 + VAT_RATE)


_SCHEDULES = {
    "TRY": FeeSchedule(Decimal("0.0012"), Decimal("0.0024")),
    "USDT": FeeSchedule(Decimal("0.0010"), Decimal("0.0014")),
}


def fee_schedule(quote: str) -> FeeSchedule:
    return _SCHEDULES.get(quote, _SCHEDULES["TRY"])
