"""Shared rig of the integration tests that drive `run_cycle` against the in-process simulator with
scripted venue faults (the execution core and reconciliation under faults, R-EXEC-3/4, R-REL-2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import select_mode, stage3_config
from btcbot.config import load_settings
from btcbot.domain.errors import OutcomeUnknown, Unavailable
from btcbot.domain.models import BookLevel, OrderBook, OrderReport, OrderRequest, SubmitAck
from btcbot.services.cycle import CycleReport, Deps, run_cycle

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    at: datetime = T0

    def now(self) -> datetime:
        return self.at


@dataclass
class Faulty:
    """Wraps the simulator; scripted faults per call kind. Counts what really reached the venue.

    `strip_open_client_ids`: openOrders rows come without `orderClientId`; `fail_search`: allOrders fails."""

    sim: SimExchange
    submit_faults: list[str] = field(default_factory=list)  # "timeout_after_accept" | "not_sent" | "lost_before_venue"
    on_submit: Callable[[OrderRequest], None] | None = None  # called as the request "reaches" the venue
    cancel_faults: list[str] = field(default_factory=list)  # "timeout_after_accept"
    submitted_cids: list[str] = field(default_factory=list)
    strip_open_client_ids: bool = False
    fail_search: bool = False
    zero_price_books: bool = False  # the best bid comes back as 0 (a hostile or broken reply)
    open_orders_error: Exception | None = None  # raised by open_orders (the read every cycle needs)
    calls: list[str] = field(default_factory=list)  # every exchange method called, in order
    name: str = "sim"

    def __getattr__(self, item: str) -> Any:
        target = getattr(self.sim, item)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(item)
            return target(*args, **kwargs)

        return counted

    def submit_order(self, request: OrderRequest) -> SubmitAck:
        self.calls.append("submit_order")
        fault = self.submit_faults.pop(0) if self.submit_faults else ""
        if fault == "not_sent":
            raise Unavailable("connect error (not sent)")
        if fault == "lost_before_venue":  # ambiguous to us, but the venue never got it
            raise OutcomeUnknown("read timeout (the request never arrived)")
        if self.on_submit is not None:
            self.on_submit(request)
        self.submitted_cids.append(request.client_order_id)
        ack = self.sim.submit_order(request)
        if fault == "timeout_after_accept":
            raise OutcomeUnknown("read timeout after the order was accepted")
        return ack

    def cancel_order(self, exchange_order_id: int) -> None:
        self.calls.append("cancel_order")
        fault = self.cancel_faults.pop(0) if self.cancel_faults else ""
        self.sim.cancel_order(exchange_order_id)
        if fault == "timeout_after_accept":
            raise OutcomeUnknown("cancel reply lost")

    def open_orders(self, symbols: Any) -> list[OrderReport]:
        self.calls.append("open_orders")
        if self.open_orders_error is not None:
            raise self.open_orders_error
        reports = self.sim.open_orders(symbols)
        return [replace(r, client_order_id=None) for r in reports] if self.strip_open_client_ids else reports

    def order_book(self, symbol: str, limit: int = 25) -> OrderBook:
        self.calls.append("order_book")
        book = self.sim.order_book(symbol, limit)
        if not self.zero_price_books:
            return book
        return replace(book, bids=(BookLevel(Decimal(0), Decimal(1)), *book.bids[1:]))

    def all_orders(self, symbol: str, start: datetime | None = None, limit: int = 100) -> list[OrderReport]:
        self.calls.append("all_orders")
        if self.fail_search:
            raise Unavailable("allOrders: HTTP 503")
        return self.sim.all_orders(symbol, start, limit)


Rig = tuple[Deps, Faulty, FakeClock]


def open_rig(state_dir: Path, monkeypatch: pytest.MonkeyPatch, flow: Decimal = Decimal(0),
             **env: str) -> tuple[Rig, SimExchange]:
    monkeypatch.setenv("BTCBOT_SYMBOLS", "BTCTRY")
    monkeypatch.setenv("BTCBOT_UNKNOWN_ORDER_MAX_AGE_SECONDS", "120")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(state_dir=state_dir)
    clock = FakeClock()
    sim = SimExchange.open(None, SimConfig(seed=7, auto_advance=False, flow_probability=flow), clock)
    faulty = Faulty(sim)
    store = Store.open(settings.state_dir, "sim")
    return (Deps(settings, faulty, store, clock, select_mode(settings)), faulty, clock), sim  # type: ignore[arg-type]


def cycle(deps: Deps, clock: FakeClock, minutes: int = 1) -> CycleReport:
    clock.at += timedelta(minutes=minutes)
    report = run_cycle(deps, stage3_config(deps.settings))
    assert report.exit_code == 0, report.error
    return report
