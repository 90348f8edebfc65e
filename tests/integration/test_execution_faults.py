"""The one execution core under faults, with the in-process simulator as the venue (R-EXEC-3/4, R-REL-2)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from factories import PortClock

from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import select_mode, stage3_config
from btcbot.config import load_settings
from btcbot.domain.errors import OutcomeUnknown, Unavailable
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import LocalOrder, OrderMethod, OrderRequest, Side, SubmitAck
from btcbot.domain.order_fsm import OrderStatus
from btcbot.services.cycle import Deps, run_cycle

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


FakeClock = PortClock


@dataclass
class Faulty:
    """Wraps the simulator; scripted faults per call kind. Counts what really reached the venue."""

    sim: SimExchange
    submit_faults: list[str] = field(default_factory=list)  # "timeout_after_accept" | "not_sent"
    cancel_faults: list[str] = field(default_factory=list)  # "timeout_after_accept"
    submitted_cids: list[str] = field(default_factory=list)
    name: str = "sim"

    def __getattr__(self, item: str) -> Any:
        return getattr(self.sim, item)

    def submit_order(self, request: OrderRequest) -> SubmitAck:
        fault = self.submit_faults.pop(0) if self.submit_faults else ""
        if fault == "not_sent":
            raise Unavailable("connect error (not sent)")
        self.submitted_cids.append(request.client_order_id)
        ack = self.sim.submit_order(request)
        if fault == "timeout_after_accept":
            raise OutcomeUnknown("read timeout after the order was accepted")
        return ack

    def cancel_order(self, exchange_order_id: int) -> None:
        fault = self.cancel_faults.pop(0) if self.cancel_faults else ""
        self.sim.cancel_order(exchange_order_id)
        if fault == "timeout_after_accept":
            raise OutcomeUnknown("cancel reply lost")


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Deps, Faulty, FakeClock]]:
    monkeypatch.setenv("BTCBOT_SYMBOLS", "BTCTRY")
    monkeypatch.setenv("BTCBOT_UNKNOWN_ORDER_MAX_AGE_SECONDS", "120")
    settings = load_settings(state_dir=tmp_path / "state")
    clock = FakeClock(T0)
    sim = SimExchange.open(None, SimConfig(seed=7, auto_advance=False, flow_probability=Decimal(0)), clock)
    faulty = Faulty(sim)
    store = Store.open(settings.state_dir, "sim")
    yield Deps(settings, faulty, store, clock, select_mode(settings)), faulty, clock  # type: ignore[arg-type]
    store.close()
    sim.close()


def _cycle(deps: Deps, clock: FakeClock, minutes: int = 1) -> Any:
    clock.at += timedelta(minutes=minutes)
    report = run_cycle(deps, stage3_config(deps.settings))
    assert report.exit_code == 0, report.error
    return report


def _venue_orders(faulty: Faulty) -> list[Any]:
    return faulty.sim.all_orders("BTCTRY", start=None, limit=1000)


def test_submit_timeout_after_accept_is_adopted_never_resent(rig: tuple[Deps, Faulty, FakeClock]) -> None:
    deps, faulty, clock = rig
    faulty.submit_faults = ["timeout_after_accept"]
    first = _cycle(deps, clock)
    assert [o.status for o in first.execution.unknown] == [OrderStatus.UNKNOWN]
    cid = first.execution.unknown[0].client_order_id
    second = _cycle(deps, clock)
    assert deps.store.order(cid).status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED,  # type: ignore[union-attr]
                                            OrderStatus.FILLED)
    assert deps.store.order(cid).exchange_order_id is not None  # type: ignore[union-attr]
    assert second.execution.submitted == []  # nothing resent while it was unknown, nor after adoption
    assert len(faulty.submitted_cids) == len(set(faulty.submitted_cids)) == 1
    assert len(_venue_orders(faulty)) == 1


def test_submit_not_sent_is_not_placed_and_retried_next_cycle(rig: tuple[Deps, Faulty, FakeClock]) -> None:
    deps, faulty, clock = rig
    faulty.submit_faults = ["not_sent"]
    first = _cycle(deps, clock)
    assert [o.status for o in first.execution.not_placed] == [OrderStatus.NOT_PLACED]
    assert _venue_orders(faulty) == []
    second = _cycle(deps, clock)
    assert len(second.execution.submitted) == 1
    assert len(_venue_orders(faulty)) == 1


def test_crash_between_journal_and_post_settles_not_placed_after_budget(rig: tuple[Deps, Faulty, FakeClock]) -> None:
    deps, faulty, clock = rig
    orphan = LocalOrder("bb3b-BTCTRY-crashed", None, "sim", "3", "BTCTRY", Side.BUY, OrderMethod.LIMIT,
                        Decimal("3490000"), Decimal("0.00007"), Decimal(0), Decimal(0), OrderStatus.SUBMITTING, "h",
                        True, False, 0, clock.at, clock.at)
    deps.store.insert_order(orphan, None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), clock.at)
    statuses = []
    for _ in range(6):
        report = _cycle(deps, clock)
        statuses.append(deps.store.order(orphan.client_order_id).status)  # type: ignore[union-attr]
        if report.execution.submitted:
            break
    assert statuses[0] is OrderStatus.SUBMITTING  # searched, not found, budget not spent: no new buy yet
    assert OrderStatus.NOT_PLACED in statuses
    assert len(_venue_orders(faulty)) == 1  # exactly one buy reached the venue, after the budget was spent


def test_ambiguous_cancel_is_confirmed_by_status(rig: tuple[Deps, Faulty, FakeClock]) -> None:
    deps, faulty, clock = rig
    first = _cycle(deps, clock)
    cid = first.execution.submitted[0].client_order_id
    faulty.cancel_faults = ["timeout_after_accept"]
    # the book moves away: advance the simulated market so the price drifts, and age the order past stale
    clock.at += timedelta(seconds=deps.settings.stale_order_seconds)
    second = _cycle(deps, clock)
    cancelled = {o.client_order_id: o.status for o in second.execution.cancel_requested}
    assert cancelled == {cid: OrderStatus.CANCEL_REQUESTED}
    _cycle(deps, clock)
    assert deps.store.order(cid).status is OrderStatus.CANCELED  # type: ignore[union-attr]


def test_vanished_open_order_is_probed_and_settled(rig: tuple[Deps, Faulty, FakeClock]) -> None:
    deps, faulty, clock = rig
    first = _cycle(deps, clock)
    order = first.execution.submitted[0]
    faulty.sim.cancel_order(order.exchange_order_id)  # cancelled outside the bot: gone from open orders
    _cycle(deps, clock)
    settled = deps.store.order(order.client_order_id)
    assert settled is not None and settled.status is OrderStatus.CANCELED
