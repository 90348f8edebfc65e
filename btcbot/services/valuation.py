"""Marks, equity and peak equity, persisted each cycle so `status` needs no network (R-ACC-2)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.account import AccountSnapshot, account_snapshot
from btcbot.domain.accounting import drawdown_pct, next_peak
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.money import ZERO, dec_str, to_decimal

__all__ = ["Valuation", "load_marks", "value_account"]


@dataclass(frozen=True, slots=True)
class Valuation:
    marks: dict[str, Decimal]  # symbol -> best bid
    equity_try: Decimal | None
    peak_try: Decimal | None
    drawdown_pct: Decimal
    unpriced: tuple[str, ...]
    account: AccountSnapshot | None = None


def value_account(snapshot: MarketSnapshot, store: Store, now: datetime) -> Valuation:
    """Value every balance in TRY at best bids (the account snapshot); persist marks, equity and the running
    peak (only from a complete valuation: an unpriced asset would fake a drawdown)."""
    marks = {s: b.best_bid for s, b in snapshot.books.items() if b.best_bid is not None}
    merged = {**load_marks(store), **marks}
    account = account_snapshot(snapshot, merged)
    equity = account.equity_try
    peak_text = store.get_kv("peak_equity_try")
    peak = to_decimal(peak_text) if peak_text else None
    with store.db.atomic():  # one commit for the three
        if equity is not None and account.equity_complete:
            peak = next_peak(peak, equity)
            store.set_kv("equity_try", dec_str(equity), now)
            store.set_kv("peak_equity_try", dec_str(peak), now)
        store.set_kv("marks", json.dumps({s: dec_str(p) for s, p in merged.items()}, sort_keys=True), now)
    dd = drawdown_pct(equity, peak) if equity is not None and peak is not None else ZERO
    return Valuation(merged, equity, peak, dd, account.unpriced, account)


def load_marks(store: Store) -> dict[str, Decimal]:
    text = store.get_kv("marks")
    return {s: to_decimal(p) for s, p in json.loads(text).items()} if text else {}
