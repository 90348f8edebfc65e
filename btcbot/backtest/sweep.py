"""Parameter sweeps: one backtest per point of a grid, on local processes or a Dask cluster.

Grid file (TOML): a `[grid]` table mapping setting names to lists of values, e.g.

    [grid]
    min_profit_bps = ["30", "50", "80"]
    order_notional_try = ["150", "250"]

gives 3 × 2 = 6 points (keys in file order, values in list order; the last key varies fastest). Names are
the settings' names (or their BTCBOT_ variables); values are strings, integers or booleans (floats are
refused, as everywhere in btcbot). Every point is validated before anything runs.

Where it runs: `concurrent.futures.ProcessPoolExecutor` (spawned processes) by default, or the Dask cluster
whose scheduler address is given (`dask.distributed`, the optional extra `btcbot[dask]`). Each task carries
everything it needs (resolved settings as plain values, the candles, seed, stage), so a point computes the
same report on any process or machine; results come back in grid order.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from btcbot.backtest.runner import BacktestSpec, run_backtest
from btcbot.backtest.settings import frozen, setting_name, thaw
from btcbot.config import Settings
from btcbot.domain.candles import Candle
from btcbot.domain.errors import ConfigError

__all__ = ["MAX_POINTS", "SORTABLE", "CandleSet", "PointTask", "load_grid", "run_point", "run_sweep"]

MAX_POINTS = 10_000
SORTABLE = ("end_equity", "realized_pnl", "unrealized_pnl", "fees_paid", "max_drawdown_pct", "orders", "fills",
            "fill_ratio", "turnover", "exposure_pct", "cycles")
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class CandleSet:
    """The candles as one object (Dask scatters a bare list element by element)."""

    candles: tuple[Candle, ...]


@dataclass(frozen=True, slots=True)
class PointTask:
    settings: dict[str, Any]  # resolved base settings (settings.frozen)
    params: dict[str, str]  # this point of the grid
    symbol: str
    stage: str
    seed: int
    every: int
    overrides: dict[str, str]  # --set of the sweep (echoed in the report with the point's params)
    data_sha256: str


def _value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    kind = "floats lose precision: write \"0.5\", not 0.5" if isinstance(value, float) else type(value).__name__
    raise ConfigError(f"grid {key}: values must be strings, integers or booleans ({kind})")


def load_grid(path: Path, settings: Settings, sort_by: str) -> list[dict[str, str]]:
    """The grid's points, each validated against `settings` (ConfigError naming the key, value or point)."""
    if sort_by not in SORTABLE:
        raise ConfigError(f"--sort-by {sort_by}: not a report figure (one of {', '.join(SORTABLE)})")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--grid: file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--grid {path}: not a readable TOML file ({exc})") from None
    grid = document.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"--grid {path}: needs a [grid] table of setting = [values, ...]")
    axes: dict[str, list[str]] = {}
    for key, values in grid.items():
        name = setting_name(key, "grid")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid {key}: expected a non-empty list of values")
        axes[name] = list(dict.fromkeys(_value(key, v) for v in values))
    count = 1
    for values in axes.values():
        count *= len(values)
    if count > MAX_POINTS:
        raise ConfigError(f"--grid {path}: {count} points (at most {MAX_POINTS})")
    points = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]
    base = frozen(settings)
    for point in points:
        thaw(base, point)
    return points


def run_point(task: PointTask, data: CandleSet) -> dict[str, Any]:
    """One backtest of the sweep (runs in a worker process or on a Dask worker)."""
    settings = thaw(task.settings, task.params)
    spec = BacktestSpec(settings=settings, symbol=task.symbol, candles=data.candles, stage=task.stage,
                        seed=task.seed, every=task.every, overrides={**task.overrides, **task.params},
                        data_sha256=task.data_sha256)
    return {"params": dict(task.params), "report": run_backtest(spec).report}


_WORKER_DATA: CandleSet | None = None


def _init_worker(data: CandleSet) -> None:
    global _WORKER_DATA
    _WORKER_DATA = data


def _run_in_worker(task: PointTask) -> dict[str, Any]:
    assert _WORKER_DATA is not None
    return run_point(task, _WORKER_DATA)


def run_sweep(base: BacktestSpec, points: Sequence[Mapping[str, str]], *, jobs: int | None = None,
              scheduler: str | None = None, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Every point's {"params", "report"}, in grid order."""
    settings = frozen(base.settings)
    tasks = [PointTask(settings, dict(p), base.symbol, base.stage, base.seed, base.every, dict(base.overrides),
                       base.data_sha256) for p in points]
    data = CandleSet(tuple(base.candles))
    if scheduler is not None:
        from btcbot.backtest.dask_runner import run_on_dask

        return run_on_dask(scheduler, tasks, data, progress)
    workers = min(jobs or os.cpu_count() or 1, len(tasks))
    if workers <= 1:
        results = []
        for done, task in enumerate(tasks, 1):
            results.append(run_point(task, data))
            if progress is not None:
                progress(done, len(tasks))
        return results
    return _on_processes(workers, tasks, data, progress)


def _on_processes(workers: int, tasks: Sequence[PointTask], data: CandleSet,
                  progress: Progress | None) -> list[dict[str, Any]]:
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    context = multiprocessing.get_context("spawn")  # fresh interpreters, like remote workers
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(data,)) as pool:
        futures = {pool.submit(_run_in_worker, task): index for index, task in enumerate(tasks)}
        for done, future in enumerate(as_completed(futures), 1):
            results[futures[future]] = future.result()
            if progress is not None:
                progress(done, len(tasks))
    return [r for r in results if r is not None]
