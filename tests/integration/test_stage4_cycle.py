"""Stage 4 through the one `run_cycle` against the in-process simulator: persisted replace chains (and resuming
them after a crash), the account snapshot's sell-only degrade, and the account guards moving the trading state."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from factories import PortClock

from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import select_mode, stage4_config
from btcbot.config import load_settings
from btcbot.domain.errors import Unavailable
from btcbot.domain.events import EventKind
from btcbot.domain.models import Balance, ExchangeOrderStatus, Side, TradingState
from btcbot.domain.order_fsm import OrderStatus
from btcbot.domain.replace_fsm import ReplaceState
from btcbot.services import cycle as cycle_module
from btcbot.services.cycle import CycleReport, Deps, run_cycle

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@dataclass
class Venue:
    """The simulator with scripted trouble: balances that cannot be read."""

    sim: SimExchange
    balances_fail: bool = False
    name: str = "sim"

    def __getattr__(self, item: str) -> Any:
        return getattr(self.sim, item)

    def balances(self) -> list[Balance]:
        if self.balances_fail:
            raise Unavailable("private endpoint down")
        return self.sim.balances()


def _config(flow_probability: Decimal) -> SimConfig:
    """TRY only: every asset the account holds has a mark (BTCTRY), so equity and drawdown are complete."""
    return SimConfig(seed=11, auto_advance=False, flow_probability=flow_probability,
                     initial_balances={"TRY": Decimal(20000)})


class Crash(BaseException):
    """The process dies here (as SIGKILL would): nothing after this point runs."""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Deps, Venue, PortClock]]:
    monkeypatch.setenv("BTCBOT_SYMBOLS", "BTCTRY")
    settings = load_settings(state_dir=tmp_path / "state")
    clock = PortClock(T0)
    sim = SimExchange.open(None, _config(Decimal(0)), clock)
    venue = Venue(sim)
    store = Store.open(settings.state_dir, "sim")
    yield Deps(settings, venue, store, clock, select_mode(settings)), venue, clock  # type: ignore[arg-type]
    store.close()
    sim.close()


def _cycle(deps: Deps, clock: PortClock, seconds: int = 60) -> CycleReport:
    clock.at += timedelta(seconds=seconds)
    report = run_cycle(deps, stage4_config(deps.settings))
    assert report.exit_code == 0, report.error
    return report


def _venue_buys(venue: Venue) -> list[Any]:
    return sorted((o for o in venue.sim.all_orders("BTCTRY", start=None, limit=1000) if o.side is Side.BUY),
                  key=lambda o: o.exchange_order_id)


def _assert_never_two_live(venue: Venue) -> None:
    """Over the venue's whole history, each of our buys ended before the next one was created."""
    buys = _venue_buys(venue)
    for old, new in itertools.pairwise(buys):
        assert old.status in (ExchangeOrderStatus.CANCELED, ExchangeOrderStatus.CLOSED)
        assert old.updated_at <= new.created_at, (old, new)


def _age_out(deps: Deps, clock: PortClock) -> CycleReport:
    """Age the resting buy past STALE_ORDER_SECONDS: the next cycle replaces it."""
    return _cycle(deps, clock, deps.settings.stale_order_seconds + 1)


def test_stage4_replace_chain_persisted_old_to_new_never_both_live(env: tuple[Deps, Venue, PortClock]) -> None:
    deps, venue, clock = env
    first = _cycle(deps, clock)
    old = first.execution.submitted[0]  # type: ignore[union-attr]
    second = _age_out(deps, clock)
    assert [c.client_order_id for c in second.execution.cancel_requested] == [old.client_order_id]  # type: ignore[union-attr]
    assert second.execution.submitted == []  # type: ignore[union-attr]  # never in the cycle of the cancel
    [chain] = deps.store.chains()
    assert (chain.state, chain.old_client_order_id, chain.trigger) == (ReplaceState.CANCEL_REQUESTED,
                                                                       old.client_order_id, "CANCEL_STALE_AGE")
    third = _cycle(deps, clock)
    [new] = third.execution.submitted  # type: ignore[union-attr]
    [chain] = deps.store.chains()
    assert (chain.state, chain.new_client_order_id) == (ReplaceState.REPLACED, new.client_order_id)
    assert [c.id for c in third.chains] == [chain.id]
    codes = [e["code"] for e in deps.store.events(kind=EventKind.REPLACE_CHAIN_CHANGED)]
    assert codes == ["REPLACE_STARTED", "OLD_TERMINAL", "SUBMITTED"]
    _assert_never_two_live(venue)


def test_stage4_crash_between_cancel_confirm_and_submit_resumes_next_cycle(
    env: tuple[Deps, Venue, PortClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    deps, venue, clock = env
    _cycle(deps, clock)
    _age_out(deps, clock)

    def die(*args: Any, **kwargs: Any) -> Any:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(cycle_module, "execute", die)  # the READY move commits, then the process dies
        clock.at += timedelta(seconds=60)
        with pytest.raises(Crash):
            run_cycle(deps, stage4_config(deps.settings))
    [chain] = deps.store.chains()
    assert chain.state is ReplaceState.READY
    assert deps.store.order(chain.old_client_order_id).status is OrderStatus.CANCELED  # type: ignore[union-attr]
    assert [o for o in _venue_buys(venue) if o.status.is_open] == []  # nothing live: the old one is gone

    resumed = _cycle(deps, clock)
    [new] = resumed.execution.submitted  # type: ignore[union-attr]
    [chain] = deps.store.chains()
    assert (chain.state, chain.new_client_order_id) == (ReplaceState.REPLACED, new.client_order_id)
    assert len([o for o in _venue_buys(venue) if o.status.is_open]) == 1
    _cycle(deps, clock)  # and nothing more goes out for that side
    assert len(_venue_buys(venue)) == 2
    _assert_never_two_live(venue)


def test_stage4_balances_unavailable_sell_only_sells_still_placed(env: tuple[Deps, Venue, PortClock]) -> None:
    deps, venue, clock = env
    venue.sim.close()
    venue.sim = SimExchange.open(None, _config(Decimal(1)), clock)
    _cycle(deps, clock)
    for _ in range(30):  # sell flow hits the resting buy at the touch within a few ticks
        position = deps.store.positions().get("BTCTRY")
        if position is not None and position.quantity > 0:
            break
        venue.sim.advance(clock.at + timedelta(seconds=1), ticks=1)
        _cycle(deps, clock)
    held = deps.store.positions()["BTCTRY"].quantity
    assert held > 0
    for order in deps.store.orders([OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED]):
        venue.sim.cancel_order(order.exchange_order_id)  # type: ignore[arg-type]  # nothing of ours rests now
    venue.balances_fail = True
    report = _cycle(deps, clock)
    assert report.valuation is not None and report.valuation.account is not None
    assert (report.valuation.account.sell_only or "").startswith("BALANCES_UNAVAILABLE")
    placed = {o.side for o in report.execution.submitted}  # type: ignore[union-attr]
    assert Side.SELL in placed and Side.BUY not in placed, report.denials
    assert all(o.quantity <= held for o in report.execution.submitted)  # type: ignore[union-attr]
    assert "BALANCES_UNAVAILABLE" in {e["code"] for e in deps.store.events(cycle_id=report.cycle_id)}


def test_stage4_drawdown_breach_moves_state_and_stops_buys(env: tuple[Deps, Venue, PortClock]) -> None:
    deps, _, clock = env
    _cycle(deps, clock)
    equity = Decimal(deps.store.get_kv("equity_try") or "0")
    deps.store.set_kv("peak_equity_try", str(equity * 2), clock.at)  # the account is now 50 % below its peak
    report = _cycle(deps, clock)
    assert report.trading_state is TradingState.REDUCE_ONLY
    reason, since = deps.store.trading_state_since()
    assert reason is not None and reason.startswith("RISK_MAX_DRAWDOWN: drawdown_pct=50")
    assert since == clock.at
    breached = deps.store.events(kind=EventKind.RISK_LIMIT_BREACHED)
    assert [e["code"] for e in breached] == ["RISK_MAX_DRAWDOWN"]
    assert {d.code for d in report.denials if d.intent.side is Side.BUY} <= {"STATE_REDUCE_ONLY"}
    _cycle(deps, clock)  # still breached: the state holds, the breach is recorded once per episode
    assert len(deps.store.events(kind=EventKind.RISK_LIMIT_BREACHED)) == 1
