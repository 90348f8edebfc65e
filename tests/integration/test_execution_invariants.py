"""Invariants of the execution core and reconciliation that an outside mutation run showed untested (issue 8,
item 16b). Each test here fails when its bug is put back (checked by applying each mutation by hand)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from decimal import Decimal

from faulty import Rig, cycle

from btcbot.domain.events import EventKind
from btcbot.domain.models import Intent, OrderRequest, Side
from btcbot.domain.money import ZERO
from btcbot.domain.order_fsm import OrderStatus
from btcbot.domain.planner import Plan
from btcbot.services.execution import ExecutionContext, execute


def test_submit_row_is_committed_and_visible_to_another_connection_before_the_request(rig: Rig) -> None:
    # mutant: the POST sent inside the write-ahead transaction (a crash would lose the row of a placed order)
    deps, faulty, clock = rig
    seen: list[str | None] = []

    def look(request: OrderRequest) -> None:
        with closing(sqlite3.connect(deps.store.db.path)) as other:
            row = other.execute("SELECT status FROM orders WHERE client_order_id = ?",
                                (request.client_order_id,)).fetchone()
        seen.append(row[0] if row else None)

    faulty.on_submit = look
    report = cycle(deps, clock)
    assert len(report.execution.submitted) == 1  # type: ignore[union-attr]
    assert seen == ["SUBMITTING"]


def test_unknown_submit_still_reserves_its_funds_for_later_submits(rig: Rig) -> None:
    # mutant: no funds reserved after an UNKNOWN submit (the venue may have locked them: a second buy overspends)
    deps, faulty, clock = rig
    rules = {r.symbol: r for r in faulty.sim.exchange_info()}
    books = {s: faulty.sim.order_book(s) for s in ("BTCTRY", "ETHTRY")}
    intents = [Intent(s, Side.BUY, books[s].bids[0].price, Decimal(250) / books[s].bids[0].price, "test")
               for s in ("BTCTRY", "ETHTRY")]
    ctx = ExecutionContext(
        exchange=faulty, store=deps.store, stage="3", cycle_id=deps.store.start_cycle("3", "live", clock.at),
        now=clock.at, dry_run=False, rules=rules, free={"TRY": Decimal(400)}, bucket_seconds=60,
        max_order_notional=lambda _rules: Decimal(1000), write_gate=lambda _side: None)
    faulty.submit_faults = ["timeout_after_accept"]
    report = execute(Plan(submits=intents), ctx)
    assert [o.symbol for o in report.unknown] == ["BTCTRY"]
    assert [(d.intent.symbol, d.code) for d in report.denied] == [("ETHTRY", "BALANCE_INSUFFICIENT")]
    assert faulty.submitted_cids == [report.unknown[0].client_order_id]
    assert ctx.free["TRY"] < Decimal(150)


def _lost_submit(rig: Rig) -> str:
    """An order of ours whose submit timed out without ever reaching the venue: UNKNOWN, never found."""
    deps, faulty, clock = rig
    faulty.submit_faults = ["lost_before_venue"]
    first = cycle(deps, clock)
    assert faulty.sim.all_orders("BTCTRY", start=None, limit=10) == []
    return first.execution.unknown[0].client_order_id  # type: ignore[union-attr]


def test_unknown_old_order_not_placed_only_after_every_probe(rig: Rig) -> None:
    # mutant: UNKNOWN declared NOT_PLACED after the first failed probe (both budgets must be spent)
    deps, _, clock = rig
    cid = _lost_submit(rig)
    history = []
    for _ in range(4):
        cycle(deps, clock, minutes=10)  # far beyond the age budget (120 s) from the first search on
        order = deps.store.order(cid)
        assert order is not None
        history.append((order.status, order.probe_count))
    assert history == [(OrderStatus.UNKNOWN, 1), (OrderStatus.UNKNOWN, 2), (OrderStatus.UNKNOWN, 3),
                       (OrderStatus.NOT_PLACED, 3)]


def test_unknown_young_order_not_placed_only_after_the_age_budget(rig: Rig) -> None:
    deps, _, clock = rig
    cid = _lost_submit(rig)
    for _ in range(6):  # every probe spent within 60 s: still too young to give up on
        clock.at += timedelta(seconds=10)
        cycle(deps, clock, minutes=0)
    order = deps.store.order(cid)
    assert order is not None and order.status is OrderStatus.UNKNOWN and order.probe_count == 6
    cycle(deps, clock, minutes=2)
    assert deps.store.order(cid).status is OrderStatus.NOT_PLACED  # type: ignore[union-attr]


def test_failed_search_is_not_counted_as_a_probe(rig: Rig) -> None:
    # mutant: a failed search still counted as a probe (an outage would declare a live order NOT_PLACED)
    deps, faulty, clock = rig
    cid = _lost_submit(rig)
    faulty.fail_search = True
    for _ in range(5):
        cycle(deps, clock, minutes=10)
    order = deps.store.order(cid)
    assert order is not None and (order.status, order.probe_count) == (OrderStatus.UNKNOWN, 0)
    failed = [e for e in deps.store.events(kind=EventKind.EXCHANGE_ERROR) if e["code"] == "SEARCH_FAILED"]
    assert len(failed) == 5



def test_vanished_partly_filled_order_is_settled_by_its_status_not_assumed_filled(flow_rig: Rig) -> None:
    # mutant: a vanished, partly filled order assumed fully filled (its unfilled part never existed)
    deps, faulty, clock = flow_rig
    order = cycle(deps, clock).execution.submitted[0]  # type: ignore[union-attr]
    faulty.sim.advance(clock.at, ticks=1)  # it fills partly ...
    assert order.exchange_order_id is not None
    faulty.sim.cancel_order(order.exchange_order_id)  # ... and is cancelled outside the bot: gone from openOrders
    venue = faulty.sim.get_order(order.exchange_order_id)
    assert ZERO < venue.filled_quantity < venue.quantity
    cycle(deps, clock)
    settled = deps.store.order(order.client_order_id)
    assert settled is not None and settled.status is OrderStatus.CANCELED
    assert settled.filled_quantity == venue.filled_quantity
    assert deps.store.positions()["BTCTRY"].quantity == venue.filled_quantity
