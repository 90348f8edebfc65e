#!/usr/bin/env python3
"""Benchmark: backtest throughput (cycles per second) over a year of generated 1-minute BTCTRY candles.

    .venv/bin/python scripts/bench_backtest.py [--days 365] [--every 5 1] [--runs 1] [--set KEY=VALUE]... [--profile]

The candles come from `scripts/make_sample_candles.py` (seeded, generated in memory, never written). Each
run is a full `btcbot backtest` run (stage 3, default settings unless `--set`) through `run_backtest`: a cycle every
`--every` minutes (5 → 105,120 cycles over 365 days; 1 → 525,600), the simulator advancing one candle at a
time in between. Prints, per cadence, the cycles per second of each run and their median, the time split
(cycles / simulator / other) and, every tenth of the run, the throughput of that tenth (a rate that falls
along the run means per-cycle work grows with the history). `--profile` adds a cProfile of the first run.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _candles(days: int) -> list[Any]:
    spec = importlib.util.spec_from_file_location("make_sample_candles", ROOT / "scripts" / "make_sample_candles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from btcbot.domain.candles import parse_csv

    lines = module.generate(days * 1440, start=datetime(2025, 1, 1, tzinfo=UTC), price=Decimal(3_500_000), seed=1)
    return parse_csv(lines, "generated")


class _Timed:
    """Wraps run_cycle and SimExchange.advance to split the wall time."""

    def __init__(self) -> None:
        self.cycle = 0.0
        self.sim = 0.0

    def wrap(self, fn: Callable[..., Any], attr: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                setattr(self, attr, getattr(self, attr) + time.perf_counter() - start)

        return timed


def _run(candles: list[Any], every: int, profile: bool, sets: list[str]) -> tuple[float, int, _Timed]:
    import btcbot.backtest.runner as runner
    from btcbot.backtest.settings import backtest_settings, parse_sets

    timed = _Timed()
    original_cycle, original_advance = runner.run_cycle, runner.SimExchange.advance_at
    runner.run_cycle = timed.wrap(original_cycle, "cycle")  # type: ignore[assignment]
    runner.SimExchange.advance_at = timed.wrap(original_advance, "sim")  # type: ignore[method-assign]
    marks: list[tuple[float, int]] = []
    started, cpu = time.perf_counter(), time.process_time()

    def progress(done: int, total: int) -> None:
        if not marks or done * 10 // total > marks[-1][1] * 10 // total:
            marks.append((time.perf_counter(), done))

    spec = runner.BacktestSpec(backtest_settings(None, parse_sets(sets)), "BTCTRY", candles, every=every)
    profiler = cProfile.Profile() if profile else None
    try:
        if profiler is not None:
            profiler.enable()
        result = runner.run_backtest(spec, progress)
    finally:
        if profiler is not None:
            profiler.disable()
        runner.run_cycle, runner.SimExchange.advance_at = original_cycle, original_advance  # type: ignore[method-assign]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    cycles = int(str(result.report["cycles"]))
    last_t, last_done = started, 0
    tenths = []
    for at, done in marks:
        tenths.append(f"{(done - last_done) / every / max(at - last_t, 1e-9):.0f}")
        last_t, last_done = at, done
    print(f"    {cycles} cycles in {elapsed:.1f} s = {cycles / elapsed:.0f} cycles/s (CPU {cpu:.1f} s) "
          f"(cycles {timed.cycle:.1f} s, simulator {timed.sim:.1f} s, other {elapsed - timed.cycle - timed.sim:.1f} s; "
          f"fills {result.report['fills']}, orders {result.report['orders']}); per tenth: {' '.join(tenths)}")
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    return elapsed, cycles, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--every", type=int, nargs="+", default=[5, 1], help="minutes per cycle (one run each)")
    parser.add_argument("--runs", type=int, default=1, help="runs per cadence (the median is reported)")
    parser.add_argument("--profile", action="store_true", help="cProfile the first run of each cadence")
    parser.add_argument("--set", action="append", default=[], help="a setting override KEY=VALUE (repeatable)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    candles = _candles(args.days)
    print(f"{len(candles)} one-minute candles generated in {time.perf_counter() - started:.1f} s")
    for every in args.every:
        print(f"a cycle every {every} minute(s):")
        rates = []
        for index in range(args.runs):
            elapsed, cycles, _ = _run(candles, every, args.profile and index == 0, args.set)
            rates.append(cycles / elapsed)
        print(f"  median {statistics.median(rates):.0f} cycles/s over {args.runs} run(s): "
              f"{len(candles) // every / statistics.median(rates):.0f} s for the whole period")


if __name__ == "__main__":
    main()
