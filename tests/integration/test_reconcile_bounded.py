"""`btcbot reconcile` reads only what can still differ (issue 10): the non-terminal orders, the recent terminal
ones the venue mentions and the fills it lists. Its differences are exactly those of reading every order and
every fill of the journal, as it did before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from faulty import Rig, cycle, open_rig

from btcbot.bootstrap import search_budget
from btcbot.domain.order_fsm import LIVE, TERMINAL, OrderEvent
from btcbot.domain.reconcile import plan_fixes
from btcbot.services.cycle import Deps
from btcbot.services.reconcile import collect_facts
from btcbot.services.recovery import LOOKBACK, run_reconcile


def _reading_everything(deps: Deps) -> list[tuple[Any, ...]]:
    """The differences as the reconcile of every order and fill found them (before issue 10)."""
    exchange, store, now = deps.exchange, deps.store, deps.clock.now()
    orders = [o for o in store.orders() if o.status not in TERMINAL or now - o.updated_at < LOOKBACK]
    symbols = sorted(set(deps.settings.symbols) | {o.symbol for o in orders})
    open_reports = exchange.open_orders(symbols)
    since = min([now - LOOKBACK, *(o.created_at for o in orders if o.status not in TERMINAL)])
    venue_fills = exchange.fills(symbols, since=since)
    facts = collect_facts(exchange, orders, open_reports, symbols, since, venue_fills)
    fixes = plan_fixes(orders, facts, now, search_budget(deps.settings), exhaustive=True)
    known = {f.trade_id for f in store.fills()}
    return ([(f.kind, f.symbol, f.local, f.venue) for f in fixes]
            + [("FILL", f.symbol, f"trade {f.trade_id}") for f in venue_fills if f.trade_id not in known])


@pytest.fixture
def two_pairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    rig, sim = open_rig(tmp_path / "state", monkeypatch, flow=Decimal("0.2"), BTCBOT_SYMBOLS="BTCTRY,ETHTRY")
    yield rig
    rig[0].store.close()
    sim.close()


def test_reconcile_finds_the_same_differences_as_reading_every_order_and_fill(two_pairs: Rig) -> None:
    deps, faulty, clock = two_pairs
    for _ in range(24):  # twelve days of cycles: orders filled and sold, some older than the lookback
        faulty.sim.advance(clock.at + timedelta(hours=12), ticks=3)
        cycle(deps, clock, minutes=12 * 60)
    live = [o for o in deps.store.orders() if o.status in LIVE]
    assert len(live) >= 2 and any(o.status in TERMINAL for o in deps.store.orders())
    assert live[0].exchange_order_id is not None
    faulty.sim.cancel_order(live[0].exchange_order_id)  # cancelled outside the bot: SETTLE
    deps.store.apply_order_event(live[1].client_order_id, OrderEvent.FILLED, now=clock.at, cycle_id=None)  # MISMATCH
    bid = faulty.sim.order_book("BTCTRY").bids[0].price
    faulty.sim.submit_raw("BTCTRY", "buy", "limit", (bid * Decimal("0.9")).quantize(Decimal(1)), Decimal("0.001"),
                          "by-hand")  # someone else's order: EXTERNAL
    with deps.store.db.atomic() as conn:  # a fill the journal has not seen (it was listed late): FILL
        conn.execute("DELETE FROM fills WHERE id = (SELECT MAX(id) FROM fills)")
    expected = _reading_everything(deps)
    report = run_reconcile(deps, False, search_budget(deps.settings))
    found = [(d.kind, d.symbol, d.local, d.venue) if d.kind != "FILL" else (d.kind, d.symbol, d.subject)
             for d in report.differences if d.kind != "BALANCE"]
    assert found == expected
    assert {d[0] for d in expected} >= {"MISMATCH", "EXTERNAL", "FILL", "SETTLE"}
