"""The one execution core under faults, with the in-process simulator as the venue (R-EXEC-3/4, R-REL-2)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from faulty import Rig, cycle

from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import LocalOrder, OrderMethod, Side
from btcbot.domain.order_fsm import OrderStatus


def _venue_orders(faulty: Any) -> list[Any]:
    return faulty.sim.all_orders("BTCTRY", start=None, limit=1000)


def test_submit_timeout_after_accept_is_adopted_never_resent(rig: Rig) -> None:
    deps, faulty, clock = rig
    faulty.submit_faults = ["timeout_after_accept"]
    first = cycle(deps, clock)
    assert [o.status for o in first.execution.unknown] == [OrderStatus.UNKNOWN]
    cid = first.execution.unknown[0].client_order_id
    second = cycle(deps, clock)
    assert deps.store.order(cid).status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED,  # type: ignore[union-attr]
                                            OrderStatus.FILLED)
    assert deps.store.order(cid).exchange_order_id is not None  # type: ignore[union-attr]
    assert second.execution.submitted == []  # nothing resent while it was unknown, nor after adoption
    assert len(faulty.submitted_cids) == len(set(faulty.submitted_cids)) == 1
    assert len(_venue_orders(faulty)) == 1


def test_submit_not_sent_is_not_placed_and_retried_next_cycle(rig: Rig) -> None:
    deps, faulty, clock = rig
    faulty.submit_faults = ["not_sent"]
    first = cycle(deps, clock)
    assert [o.status for o in first.execution.not_placed] == [OrderStatus.NOT_PLACED]
    assert _venue_orders(faulty) == []
    second = cycle(deps, clock)
    assert len(second.execution.submitted) == 1
    assert len(_venue_orders(faulty)) == 1


def test_crash_between_journal_and_post_settles_not_placed_after_budget(rig: Rig) -> None:
    deps, faulty, clock = rig
    orphan = LocalOrder("bb3b-BTCTRY-crashed", None, "sim", "3", "BTCTRY", Side.BUY, OrderMethod.LIMIT,
                        Decimal("3490000"), Decimal("0.00007"), Decimal(0), Decimal(0), OrderStatus.SUBMITTING, "h",
                        True, False, 0, clock.at, clock.at)
    deps.store.insert_order(orphan, None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), clock.at)
    statuses = []
    for _ in range(6):
        report = cycle(deps, clock)
        statuses.append(deps.store.order(orphan.client_order_id).status)  # type: ignore[union-attr]
        if report.execution.submitted:
            break
    assert statuses[0] is OrderStatus.SUBMITTING  # searched, not found, budget not spent: no new buy yet
    assert OrderStatus.NOT_PLACED in statuses
    assert len(_venue_orders(faulty)) == 1  # exactly one buy reached the venue, after the budget was spent


def test_ambiguous_cancel_is_confirmed_by_status(rig: Rig) -> None:
    deps, faulty, clock = rig
    first = cycle(deps, clock)
    cid = first.execution.submitted[0].client_order_id
    faulty.cancel_faults = ["timeout_after_accept"]
    # the book moves away: advance the simulated market so the price drifts, and age the order past stale
    clock.at += timedelta(seconds=deps.settings.stale_order_seconds)
    second = cycle(deps, clock)
    cancelled = {o.client_order_id: o.status for o in second.execution.cancel_requested}
    assert cancelled == {cid: OrderStatus.CANCEL_REQUESTED}
    cycle(deps, clock)
    assert deps.store.order(cid).status is OrderStatus.CANCELED  # type: ignore[union-attr]


def test_vanished_open_order_is_probed_and_settled(rig: Rig) -> None:
    deps, faulty, clock = rig
    first = cycle(deps, clock)
    order = first.execution.submitted[0]
    faulty.sim.cancel_order(order.exchange_order_id)  # cancelled outside the bot: gone from open orders
    cycle(deps, clock)
    settled = deps.store.order(order.client_order_id)
    assert settled is not None and settled.status is OrderStatus.CANCELED


def test_zero_price_book_makes_symbol_stale_and_cycle_completes(rig: Rig) -> None:
    deps, faulty, clock = rig
    faulty.zero_price_books = True  # issue 8: a zero bid raised DivisionByZero in the strategy (exit 1)
    report = cycle(deps, clock)
    assert report.snapshot is not None and "BTCTRY" in report.snapshot.stale
    assert report.intents == [] and _venue_orders(faulty) == []
    invalid = deps.store.events(kind=EventKind.MARKET_DATA_INVALID)  # not traded this cycle, and says why
    assert [e["symbol"] for e in invalid] == ["BTCTRY"]
