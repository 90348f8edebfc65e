"""Backtest runner: replay candles through the same `run_cycle` against the simulator (SPEC §13).

The exchange is the simulator (`SimExchange.ephemeral`, no database) fed by `CandleFeed`; the journal is an
in-memory SQLite `Store` (`ScratchStore`: the same tables and events, cheaper to write); the clock is virtual.
Candles are replayed in blocks of `every`: the simulator advances one tick per candle, each at the candle's
close (open time + the bar length; resting orders fill against the candle's range and volume, see
adapters/sim/candles.py), then the clock is at the block's last close and one cycle runs, exactly as
`btcbot run` would, with the stage's configuration from the one registry (`bootstrap.STAGES`). The last
(possibly shorter) block ends with the last candle. Nothing touches the state directory or the network, and
the result is a pure function of (candles, settings, stage, seed, every).

The account starts with the simulator's default balance of the quote currency only (20,000 TRY or 2,000 USDT).
A USDT pair also carries USDTTRY standing still at the simulator's price, so the TRY-denominated settings
convert as they do live (CandleFeed `flat`).

After the last cycle, fills the venue made after that cycle's fill step (an order that crossed at
submission) are recorded through the journal's own fill ingestion, so the report, taken from the bot's
ledger, covers every fill the venue made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from btcbot.adapters.sim.candles import CandleFeed, candle_pair
from btcbot.adapters.sim.config import DEFAULT_PAIRS, SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sqlite.scratch import ScratchStore
from btcbot.adapters.sqlite.store import Store
from btcbot.backtest.report import EquityPoint, ReportInputs, build_report
from btcbot.bootstrap import stage_config
from btcbot.config import Settings
from btcbot.domain.accounting import Position
from btcbot.domain.candles import Candle, candle_interval
from btcbot.domain.errors import ConfigError
from btcbot.domain.models import Balance
from btcbot.domain.money import ZERO
from btcbot.domain.symbols import SYMBOL_RE, split_symbol
from btcbot.services.cycle import CycleReport, Deps, Mode, StageConfig, run_cycle

__all__ = ["START_CASH", "BacktestError", "BacktestResult", "BacktestSpec", "VirtualClock", "run_backtest"]

START_CASH = {"TRY": Decimal("20000"), "USDT": Decimal("2000")}  # the simulator's default balances
USDTTRY = "USDTTRY"  # a USDT pair's backtest converts TRY amounts at its fixed simulator price (42.5)
MODE = Mode("sim", False, ("backtest: orders go to the simulator replaying candles",))
Progress = Callable[[int, int], None]


class BacktestError(RuntimeError):
    """A cycle of the backtest did not complete (a bug: backtests have no exchange trouble)."""


@dataclass(slots=True)
class VirtualClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    """One backtest: the settings (their `symbols` are replaced by `symbol`), the candles and the knobs.

    `every`: candles per cycle (1 = a cycle at each candle's close). `overrides` and `data_sha256` are only
    echoed in the report.
    """

    settings: Settings
    symbol: str
    candles: Sequence[Candle]
    stage: str = "3"
    seed: int = 42
    every: int = 1
    overrides: Mapping[str, str] = field(default_factory=dict)
    data_sha256: str = ""


@dataclass(frozen=True, slots=True)
class BacktestResult:
    report: dict[str, object]
    curve: list[EquityPoint]
    store: Store | None = None  # kept open only when asked (tests reconcile against it)
    sim: SimExchange | None = None


def _check(spec: BacktestSpec) -> None:
    if not SYMBOL_RE.match(spec.symbol):
        raise ConfigError(f"--symbol: {spec.symbol!r} is not a pair like BTCTRY")
    if spec.every < 1:
        raise ConfigError("--every must be at least 1")
    if not spec.candles:
        raise ConfigError("no candles to replay (check --from/--to)")


@contextmanager
def _quiet() -> Iterator[None]:
    """Per-stage cycle logs would cost more than the cycle; a backtest keeps warnings only."""
    logger = logging.getLogger("btcbot")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def run_backtest(spec: BacktestSpec, progress: Progress | None = None, keep: bool = False) -> BacktestResult:
    """Run the backtest; `progress(done, total)` is called every few hundred candles. With `keep`, the
    journal and the simulator stay open in the result (the caller closes them)."""
    _check(spec)
    settings = spec.settings.model_copy(update={"symbols": [spec.symbol]})
    stage = stage_config(spec.stage, settings)
    candles = spec.candles
    interval = candle_interval(candles)
    clock = VirtualClock(candles[0].open_time)
    pair = candle_pair(spec.symbol, candles[0].open)
    flat = {p.symbol: p.start_price for p in DEFAULT_PAIRS if p.symbol == USDTTRY and pair.quote == "USDT"}
    config = SimConfig(seed=spec.seed, tick_seconds=max(1, int(interval.total_seconds())),
                       pairs=(pair, *(p for p in DEFAULT_PAIRS if p.symbol in flat)),
                       initial_balances={pair.quote: START_CASH[pair.quote]}, auto_advance=False)
    sim = SimExchange.ephemeral(config, clock, CandleFeed(candles, spec.seed, book_every=spec.every, flat=flat))
    store = ScratchStore.create(MODE.venue)
    try:
        with _quiet():
            curve, cycles = _replay(Deps(settings, sim, store, clock, MODE), stage, candles, interval, spec.every,
                                    progress)
        store.record_fills(sim.fills([spec.symbol]), clock.now(), None)
        report = _report(spec, store, curve, cycles, interval)
    except BaseException:
        sim.close()
        store.close()
        raise
    if keep:
        return BacktestResult(report, curve, store, sim)
    sim.close()
    store.close()
    return BacktestResult(report, curve)


def _replay(deps: Deps, stage: StageConfig, candles: Sequence[Candle], interval: timedelta, every: int,
            progress: Progress | None) -> tuple[list[EquityPoint], int]:
    sim, clock = deps.exchange, deps.clock
    assert isinstance(sim, SimExchange) and isinstance(clock, VirtualClock)
    symbol = deps.settings.symbols[0]
    curve = [_point(clock.now(), sim.balances(), symbol, candles[0].open)]
    cycles, total = 0, len(candles)
    for first in range(0, total, every):
        closes = [candle.open_time + interval for candle in candles[first:first + every]]
        clock.at = closes[-1]
        sim.advance_at(closes)  # one tick per candle, each at the candle's close
        report = run_cycle(deps, stage)
        cycles += 1
        curve.append(_point(clock.at, sim.balances(), symbol, _mark(report, symbol)))
        done = first + len(closes)
        if progress is not None and (cycles % 256 == 0 or done == total):
            progress(done, total)
    return curve, cycles


def _mark(report: CycleReport, symbol: str) -> Decimal:
    book = report.snapshot.books.get(symbol) if report.snapshot is not None else None
    if report.exit_code != 0 or book is None or book.best_bid is None:
        raise BacktestError(f"cycle {report.cycle_id} at {report.started_at.isoformat()} did not complete: "
                            f"{report.outcome} {report.error}".strip())
    return book.best_bid


def _point(at: datetime, balances: Sequence[Balance], symbol: str, mark: Decimal) -> EquityPoint:
    base, quote = split_symbol(symbol)
    totals = {b.asset: b.total for b in balances}
    return EquityPoint(at, totals.get(quote, ZERO), totals.get(base, ZERO), mark)


def _report(spec: BacktestSpec, store: Store, curve: list[EquityPoint], cycles: int,
            interval: timedelta) -> dict[str, object]:
    position = store.positions().get(spec.symbol) or Position(spec.symbol)
    inputs = ReportInputs(spec.symbol, spec.stage, spec.candles[0].open_time, spec.candles[-1].open_time, spec.seed,
                          spec.overrides, len(spec.candles), int(interval.total_seconds()) * spec.every,
                          spec.data_sha256)
    report = build_report(inputs, curve, position, store.orders(include_external=False), store.fills(bot_only=True),
                          cycles)
    start, end = curve[0].equity, curve[-1].equity
    pnl = Decimal(str(report["realized_pnl"])) + Decimal(str(report["unrealized_pnl"]))
    if end - start != pnl or curve[-1].base != position.quantity:
        raise BacktestError(f"money identity broken: end − start = {end - start}, realized + unrealized = {pnl}")
    return report
