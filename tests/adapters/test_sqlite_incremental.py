"""The journal's incremental work equals recomputing from every fill: positions extended by new fills (with a
rebuild for late or re-linked fills) and the balance check's running implied totals."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from factories import make_fill
from hypothesis import given, settings
from hypothesis import strategies as st

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.accounting import Position, replay_ledger
from btcbot.domain.balances import implied_totals
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import Balance, FillReport, LocalOrder, OrderMethod, Side
from btcbot.domain.order_fsm import OrderEvent, OrderStatus
from btcbot.services.balance_check import check_balances, implied_now

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ORDERS = 4  # exchange ids 1..4; id 4 gets its exchange id only late (its fills are orphans until then)


def _order(index: int) -> LocalOrder:
    return LocalOrder(
        client_order_id=f"c{index}", exchange_order_id=None, venue="sim", stage="3", symbol="BTCTRY",
        side=Side.BUY, method=OrderMethod.LIMIT, price=Decimal(3500000), quantity=Decimal(1),
        filled_quantity=Decimal(0), exchange_filled=Decimal(0), status=OrderStatus.SUBMITTING, intent_hash="h",
        dry_run=True, external=False, probe_count=0, created_at=NOW, updated_at=NOW,
    )


fill_specs = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.BUY, Side.SELL]), st.integers(1, 500), st.integers(3_400_000, 3_600_000),
              st.integers(0, 120), st.integers(1, ORDERS)),
    min_size=1, max_size=25)


def _fills(specs: list[tuple[Side, int, int, int, int]]) -> list[FillReport]:
    return [make_fill(str(1000 + i), side, price, Decimal(qty).scaleb(-6), Decimal(price * qty).scaleb(-9),
                      Decimal(price * qty).scaleb(-10), order_id=order, at=NOW + timedelta(seconds=second))
            for i, (side, qty, price, second, order) in enumerate(specs)]


@settings(max_examples=60)
@given(specs=fill_specs, cuts=st.lists(st.integers(0, 25), max_size=6), link_late=st.integers(0, 6))
def test_positions_after_each_batch_equal_a_replay_of_every_bot_fill(specs: list[tuple[Side, int, int, int, int]],
                                                                      cuts: list[int], link_late: int) -> None:
    store = Store.in_memory("sim")
    for index in range(1, ORDERS + 1):
        store.insert_order(_order(index), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)
        if index < ORDERS:
            store.apply_order_event(f"c{index}", OrderEvent.ACKED, now=NOW, cycle_id=None, exchange_order_id=index)
    fills = _fills(specs)
    bounds = sorted({0, len(fills), *(min(c, len(fills)) for c in cuts)})
    for batch, (low, high) in enumerate(itertools.pairwise(bounds)):
        if batch == link_late:
            store.apply_order_event(f"c{ORDERS}", OrderEvent.ACKED, now=NOW, cycle_id=None, exchange_order_id=ORDERS)
        store.record_fills(fills[low:high] + fills[:low][-1:], NOW, None)  # the repeat is a no-op
        linked = {f.exchange_order_id for f in fills[:high]} - ({ORDERS} if batch < link_late else set())
        ledger, applied = replay_ledger(f for f in fills[:high] if f.exchange_order_id in linked)
        expected = ledger.position("BTCTRY")
        assert store.positions().get("BTCTRY", Position("BTCTRY")) == expected
        stored = {r["trade_id"]: Decimal(r["realized_pnl"]) for r in store.db.query("SELECT * FROM fills")}
        assert all(stored[a.fill.trade_id] == a.effect.realized_pnl for a in applied)
    store.close()


@settings(max_examples=30)
@given(specs=fill_specs, cuts=st.lists(st.integers(0, 25), max_size=5))
def test_running_implied_totals_equal_the_sum_over_every_fill_since_the_baseline(
        specs: list[tuple[Side, int, int, int, int]], cuts: list[int]) -> None:
    store = Store.in_memory("sim")
    for index in range(1, ORDERS + 1):
        store.insert_order(_order(index), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), NOW)
        store.apply_order_event(f"c{index}", OrderEvent.ACKED, now=NOW, cycle_id=None, exchange_order_id=index)
    baseline = {"TRY": Balance("TRY", Decimal(20000), Decimal(0)), "BTC": Balance("BTC", Decimal(1), Decimal(0))}
    check_balances(store, baseline, ["BTCTRY"], Decimal(10), False, NOW, None)  # takes the baseline
    fills = _fills(specs)
    bounds = sorted({0, len(fills), *(min(c, len(fills)) for c in cuts)})
    for low, high in itertools.pairwise(bounds):
        store.record_fills(fills[low:high], NOW, None)
        expected = implied_totals({"TRY": Decimal(20000), "BTC": Decimal(1)}, fills[:high])
        assert implied_now(store, NOW) == expected
        assert implied_now(store) == expected  # without `now` nothing is cached, same answer
    store.close()
