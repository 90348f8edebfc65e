"""Balance check (R-ACC-4), pure: what the fills ledger implies each asset's total should be.

From a baseline (the totals the venue reported when the check started, and the last fill recorded then),
every later fill moves the implied totals: a buy adds base and takes quote (notional + fee + tax), a sell
takes base and adds quote (notional − fee − tax). A difference beyond the tolerance means something moved
money outside what btcbot knows (a deposit, a withdrawal, a missed fill).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from btcbot.domain.models import FillReport, Side
from btcbot.domain.money import ZERO
from btcbot.domain.symbols import split_symbol

__all__ = ["Mismatch", "compare_balances", "implied_totals"]

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Mismatch:
    asset: str
    implied: Decimal
    actual: Decimal

    @property
    def difference(self) -> Decimal:
        return self.actual - self.implied


def implied_totals(baseline: Mapping[str, Decimal], fills: Iterable[FillReport]) -> dict[str, Decimal]:
    totals = dict(baseline)
    for fill in fills:
        base, quote = split_symbol(fill.symbol)
        notional = fill.price * fill.quantity
        if fill.side is Side.BUY:
            totals[base] = totals.get(base, ZERO) + fill.quantity
            totals[quote] = totals.get(quote, ZERO) - notional - fill.fee - fill.tax
        else:
            totals[base] = totals.get(base, ZERO) - fill.quantity
            totals[quote] = totals.get(quote, ZERO) + notional - fill.fee - fill.tax
    return totals


def compare_balances(implied: Mapping[str, Decimal], actual: Mapping[str, Decimal], assets: Iterable[str],
                     tolerance_bps: Decimal, floor: Decimal = Decimal("0.00000001")) -> list[Mismatch]:
    """Assets whose actual total differs from the implied one by more than max(floor, bps × total)."""
    mismatches = []
    for asset in sorted(set(assets)):
        want, have = implied.get(asset, ZERO), actual.get(asset, ZERO)
        allowed = max(floor, abs(want) * tolerance_bps / BPS)
        if abs(have - want) > allowed:
            mismatches.append(Mismatch(asset, want, have))
    return mismatches
