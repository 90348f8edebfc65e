"""Composition root: Settings → Deps (exchange, store, clock, mode). Sim vs live is chosen here only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from btcbot.adapters.lock import instance_lock
from btcbot.adapters.sqlite.db import ensure_private_dir
from btcbot.adapters.sqlite.store import Store
from btcbot.config import Settings
from btcbot.domain.errors import ConfigError
from btcbot.domain.planner import PlanParams
from btcbot.domain.reconcile import SearchBudget
from btcbot.domain.risk import RiskParams
from btcbot.domain.strategies.exits import ExitParams
from btcbot.domain.strategies.profit_capture import ProfitCapture, ProfitCaptureParams
from btcbot.domain.strategies.touch_maker import TouchMaker
from btcbot.ports import Exchange
from btcbot.services.after_run import after_run, deliver, last_event_id
from btcbot.services.cycle import Deps, StageConfig
from btcbot.services.guards import guard_params
from btcbot.services.mode import Mode, select_mode
from btcbot.services.run_record import record_failed_start
from btcbot.services.venue import check_exchange

if TYPE_CHECKING:  # imported lazily at run time: keeps `btcbot --help` fast
    from btcbot.adapters.btcturk import BtcTurkExchange
    from btcbot.adapters.notify import Notification

__all__ = ["SIM_DB_FILENAME", "STAGES", "SystemClock", "guard_params", "open_deps", "open_journal", "select_mode",
           "stage3_config", "stage4_config", "stage7_config", "stage7_first", "stage_builder",
           "stage_config"]

SIM_DB_FILENAME = "sim.sqlite"
PAPER_DB_FILENAME = "paper.sqlite"


@dataclass(frozen=True, slots=True)
class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def stage3_config(settings: Settings) -> StageConfig:
    return StageConfig(
        name="3",
        symbols=tuple(settings.symbols),
        strategy=ProfitCapture(ProfitCaptureParams(settings.order_notional_try, settings.min_profit_bps,
                                                   exit_params(settings))),
        risk=risk_params(settings),
        plan=PlanParams(settings.stale_order_seconds, settings.stale_price_bps),
        budget=search_budget(settings),
        bucket_seconds=settings.dedupe_bucket_seconds,
        max_data_age=timedelta(seconds=settings.market_data_max_age_seconds),
    )


def stage4_config(settings: Settings) -> StageConfig:
    """Stage 4: the same cycle with a touch-following maker strategy, buys replaced on size changes too, the
    sell-side minimum-profit rule, and the account guards that move the trading state."""
    return StageConfig(
        name="4",
        symbols=tuple(settings.symbols),
        strategy=TouchMaker(ProfitCaptureParams(settings.order_notional_try, settings.min_profit_bps,
                                                exit_params(settings))),
        risk=replace(risk_params(settings), sell_above_break_even=True),
        plan=PlanParams(settings.stale_order_seconds, settings.stale_price_bps, replace_buy_on_quantity=True),
        budget=search_budget(settings),
        bucket_seconds=settings.dedupe_bucket_seconds,
        max_data_age=timedelta(seconds=settings.market_data_max_age_seconds),
        guards=guard_params(settings),
    )


def stage7_config(settings: Settings) -> StageConfig:
    """Stage 7: stage 3's risk, planner and execution settings with the target-allocation strategy and hard
    idempotency keys (the same cycle and execution core)."""
    from btcbot.domain.strategies.allocation import AllocationParams, TargetAllocation, default_weights

    weights = settings.target_weights or default_weights(settings.symbols)
    allocation = AllocationParams(weights, settings.rebalance_band_bps, tuple(settings.symbols),
                                  settings.max_order_notional_try, settings.max_cycle_notional_try,
                                  settings.max_position_notional_try)
    return replace(stage3_config(settings), name="7", strategy=TargetAllocation(allocation), idempotency=True)


def stage7_first(settings: Settings, with_stage4: bool) -> tuple[StageConfig, ...]:
    """The stages `stage7-run` runs first, under the same lock (`--with-stage4`)."""
    return (stage4_config(settings),) if with_stage4 else ()


StageBuilder = Callable[[Settings], StageConfig]

# The one registry of stage configurations (backtests and sweeps choose from it): one line per stage.
STAGES: dict[str, StageBuilder] = {
    "3": stage3_config,
    "4": stage4_config,
    "7": stage7_config,
}


def stage_builder(stage: str) -> StageBuilder:
    """The registered builder of `stage`; a stage this build does not have is a usage error (exit 2)."""
    builder = STAGES.get(stage)
    if builder is None:
        available = ", ".join(sorted(STAGES))
        raise ConfigError(f"--stage {stage}: not available in this build (available: {available})")
    return builder


def stage_config(stage: str, settings: Settings) -> StageConfig:
    """The StageConfig of `stage` built from settings."""
    return stage_builder(stage)(settings)


def search_budget(settings: Settings) -> SearchBudget:
    return SearchBudget(settings.unknown_order_max_probes, settings.unknown_order_max_age_seconds)


def exit_params(settings: Settings) -> ExitParams:
    return ExitParams(settings.stop_loss_bps, settings.take_profit_bps, settings.position_ttl_minutes,
                      settings.exit_ladder_step_bps, settings.exit_max_slippage_bps,
                      trailing=settings.trailing_stop_bps > 0)


def risk_params(settings: Settings) -> RiskParams:
    return RiskParams(
        cash_target_try=settings.cash_target_try,
        max_order_notional_try=settings.max_order_notional_try,
        max_cycle_notional_try=settings.max_cycle_notional_try,
        max_position_notional_try=settings.max_position_notional_try,
        max_open_orders=settings.max_open_orders,
        max_open_orders_per_symbol=settings.max_open_orders_per_symbol,
        cooldown_seconds=settings.cooldown_seconds,
    )


@contextmanager
def open_deps(settings: Settings, clock: Any = None, record_failure_as: str | None = None) -> Iterator[Deps]:
    """Take the single-instance lock, open the journal and the exchange; release everything on exit.

    `record_failure_as=<stage>` (cycle commands): a failure while building the exchange is recorded as a
    cycle of that stage with its outcome and exit code before it propagates."""
    state_dir = ensure_private_dir(settings.state_dir)
    the_clock = clock or SystemClock()
    outbox: list[Notification | None] = []
    try:
        with instance_lock(state_dir):
            mode = select_mode(settings)
            store = open_journal(settings, the_clock.now())
            exchange: Any = None
            mark = last_event_id(store) if record_failure_as is not None else None
            try:
                try:
                    exchange = build_exchange(settings, mode, store, the_clock, state_dir)
                except BaseException as exc:
                    if record_failure_as is not None:
                        record_failed_start(store, record_failure_as, mode.label, exc, the_clock.now())
                    raise
                yield Deps(settings, exchange, store, the_clock, mode)
            finally:
                if exchange is not None and hasattr(exchange, "close"):
                    with suppress(Exception):
                        exchange.close()
                try:
                    if mark is not None:  # a cycle command, its state committed: metrics, then notifications
                        outbox.append(after_run(settings, store, mark, the_clock.now()))
                finally:
                    store.close()
    finally:
        for notification in outbox:  # sent once the lock is released: a slow endpoint never holds it
            deliver(settings, notification)


def open_journal(settings: Settings, now: datetime) -> Store:
    """The state dir's journal for the selected venue, refused (exit 2) when the state dir belongs to another
    exchange; a journal without a record is claimed for this one (services/venue.py)."""
    store = Store.open(settings.state_dir, select_mode(settings).venue)
    try:
        check_exchange(store, settings.exchange, settings.state_dir, now, record=True)
    except BaseException:
        store.close()
        raise
    return store


def build_exchange(settings: Settings, mode: Mode, store: Store, clock: Any, state_dir: Path) -> Exchange:
    """The one place that chooses the simulator, the paper venue or BTCTurk."""
    if mode.venue == "sim":
        return _open_sim(settings, clock, state_dir / SIM_DB_FILENAME)
    live = _open_btcturk(settings, store, clock)
    if mode.venue == "btcturk":
        return live
    return _open_paper(settings, clock, state_dir / PAPER_DB_FILENAME, live)


def _open_sim(settings: Settings, clock: Any, path: Path) -> Exchange:
    from btcbot.adapters.sim.config import SimConfig
    from btcbot.adapters.sim.exchange import SimExchange

    config = SimConfig(seed=settings.sim_seed, auto_advance=False)
    sim = SimExchange.open(path, config, clock)
    step = settings.sim_step_seconds
    sim.advance(clock.now(), ticks=(step // config.tick_seconds) if step else None)
    return sim


def _open_btcturk(settings: Settings, store: Store, clock: Any) -> Exchange:
    return btcturk_exchange(settings, clock=clock, block_store=store)


def btcturk_exchange(settings: Settings, clock: Any = None, block_store: Any = None) -> BtcTurkExchange:
    """The BTCTurk adapter configured from settings (blocks persisted in `block_store` when given)."""
    from btcbot.adapters.btcturk import BtcTurkClient, BtcTurkExchange

    client = BtcTurkClient(base_url=settings.base_url, graph_url=settings.graph_url, api_key=settings.api_key,
                           api_secret=settings.api_secret, clock=(clock or SystemClock()).now,
                           block_store=block_store, read_timeout=float(settings.http_timeout_seconds))
    return BtcTurkExchange(client)


def _open_paper(settings: Settings, clock: Any, path: Path, live: Exchange) -> Exchange:
    from btcbot.adapters.sim.paper import open_paper
    from btcbot.services.market import book_symbols

    return open_paper(path, live, clock, book_symbols(settings.symbols))
