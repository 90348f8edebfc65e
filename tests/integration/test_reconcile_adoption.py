"""Finding 1 of issue 8: an in-flight order of ours that the venue lists without its client id must never be
recorded as external and then fail to be adopted (UNIQUE (venue, exchange_order_id)) in every later run."""

from __future__ import annotations

from dataclasses import replace

from faulty import Rig, cycle

from btcbot.bootstrap import search_budget
from btcbot.domain.money import ZERO
from btcbot.domain.order_fsm import OrderStatus
from btcbot.services.reconcile import tag_external
from btcbot.services.recovery import run_reconcile


def _assert_positions_equal_venue_fills(rig: Rig) -> None:
    deps, faulty, _ = rig
    venue = faulty.sim.fills(["BTCTRY"], since=None)
    position = deps.store.positions().get("BTCTRY")
    assert (position.quantity if position else ZERO) == sum((f.quantity for f in venue), ZERO)
    assert (position.fees_paid if position else ZERO) == sum((f.fee + f.tax for f in venue), ZERO)


def test_in_flight_order_listed_without_client_id_while_search_fails_is_adopted_not_external(flow_rig: Rig) -> None:
    deps, faulty, clock = flow_rig
    faulty.submit_faults = ["timeout_after_accept"]
    first = cycle(deps, clock)
    cid = first.execution.unknown[0].client_order_id  # type: ignore[union-attr]
    faulty.strip_open_client_ids, faulty.fail_search = True, True
    cycle(deps, clock)  # openOrders lists our order without orderClientId; allOrders fails
    assert deps.store.orders(include_external=True) == deps.store.orders(include_external=False)
    faulty.strip_open_client_ids, faulty.fail_search = False, False
    faulty.sim.advance(clock.at, ticks=1)  # it fills partly
    cycle(deps, clock)  # found by client id: adopted (this failed with UNIQUE constraint on every run)
    adopted = deps.store.order(cid)
    assert adopted is not None and adopted.exchange_order_id is not None
    assert adopted.status is OrderStatus.PARTIALLY_FILLED
    assert [o for o in deps.store.orders() if o.external] == []
    _assert_positions_equal_venue_fills(flow_rig)
    faulty.sim.advance(clock.at, ticks=1)
    cycle(deps, clock)
    assert deps.store.order(cid).status is OrderStatus.FILLED  # type: ignore[union-attr]
    _assert_positions_equal_venue_fills(flow_rig)


def _stuck_journal(rig: Rig) -> str:
    """The journal as the bug left it: our UNKNOWN order, and the same venue order recorded as external
    (`ext-<id>`) with a fill attached to that external row (so missing from our position)."""
    deps, faulty, clock = rig
    faulty.submit_faults = ["timeout_after_accept"]
    cid = cycle(deps, clock).execution.unknown[0].client_order_id  # type: ignore[union-attr]
    faulty.sim.advance(clock.at, ticks=1)
    venue = faulty.sim.open_orders(["BTCTRY"])[0]
    tag_external(deps.store, replace(venue, client_order_id=None), clock.at, None)
    deps.store.record_fills([replace(f, client_order_id=None) for f in faulty.sim.fills(["BTCTRY"])], clock.at, None)
    external = deps.store.order(f"ext-{venue.exchange_order_id}")
    assert external is not None and external.filled_quantity > 0
    assert "BTCTRY" not in deps.store.positions() or deps.store.positions()["BTCTRY"].quantity == 0
    return cid


def _assert_merged(rig: Rig, cid: str) -> None:
    deps = rig[0]
    adopted = deps.store.order(cid)
    assert adopted is not None and adopted.exchange_order_id is not None
    assert deps.store.order(f"ext-{adopted.exchange_order_id}") is None
    assert adopted.filled_quantity > 0  # the fills of the external row are now on our order
    merged = [e for e in deps.store.events() if e["code"] == "EXTERNAL_ROW_MERGED"]
    assert [e["client_order_id"] for e in merged] == [cid]
    _assert_positions_equal_venue_fills(rig)


def test_stuck_external_row_of_our_order_is_merged_by_next_cycle(flow_rig: Rig) -> None:
    cid = _stuck_journal(flow_rig)
    deps, _, clock = flow_rig
    cycle(deps, clock)
    _assert_merged(flow_rig, cid)


def test_stuck_external_row_of_our_order_is_merged_by_reconcile_apply(flow_rig: Rig) -> None:
    cid = _stuck_journal(flow_rig)
    deps = flow_rig[0]
    report = run_reconcile(deps, True, search_budget(deps.settings))
    assert report.exit_code == 0, report.remaining
    _assert_merged(flow_rig, cid)
