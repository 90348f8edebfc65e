#!/usr/bin/env python3
"""Benchmark: the cost of `PRAGMA synchronous = FULL` (a COMMIT fsyncs the WAL) against NORMAL, per cycle.

In FULL mode the journal keeps its policy: bookkeeping commits that a durable commit always follows before
anything is sent (`atomic(durable=False)`) skip the fsync; NORMAL skips it everywhere.

Runs stage-3 cycles in-process against the built-in simulator (offline, dry-run: the same journal writes as a
live cycle, without network time) with the journal on the disk of `--dir`, once per mode and run, and prints the
median cycle wall time of each mode, the commits per cycle and the cost per commit.

    .venv/bin/python scripts/bench_sync.py [--runs 7] [--cycles 12] [--dir .]

Use a directory on the disk the state dir will live on (tmpfs would make fsync free and the figure meaningless).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from btcbot.adapters.sqlite.db import Database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per mode (medians are over runs)")
    parser.add_argument("--cycles", type=int, default=12, help="cycles per run")
    parser.add_argument("--dir", type=Path, default=Path("."), help="where the temporary state dirs go")
    args = parser.parse_args()
    results: dict[str, list[float]] = {"NORMAL": [], "FULL": []}
    commits: list[float] = []
    for _ in range(args.runs):
        for mode in ("NORMAL", "FULL"):  # interleaved: a busy spell hits both modes alike
            per_cycle, per_cycle_commits = _run(mode, args.cycles, args.dir)
            results[mode].append(per_cycle)
            commits.append(per_cycle_commits)
    normal, full = statistics.median(results["NORMAL"]), statistics.median(results["FULL"])
    per_commit = statistics.median(commits)
    print(f"runs={args.runs} cycles/run={args.cycles} dir={args.dir.resolve()}")
    for mode, values in results.items():
        print(f"synchronous={mode:<6} median cycle {statistics.median(values) * 1000:7.1f} ms "
              f"(runs: {', '.join(f'{v * 1000:.1f}' for v in values)})")
    print(f"commits per cycle (median): {per_commit:.1f}")
    print(f"FULL costs {1000 * (full - normal):+.1f} ms per cycle ({100 * (full / normal - 1):+.1f}%), "
          f"{1000 * (full - normal) / per_commit:+.2f} ms per commit")


def _run(mode: str, cycles: int, where: Path) -> tuple[float, float]:
    """Median wall time of one cycle (s) and commits per cycle, for a fresh state dir in `mode`."""
    from btcbot.bootstrap import open_deps, stage3_config
    from btcbot.config import load_settings
    from btcbot.services.cycle import run_cycle

    with tempfile.TemporaryDirectory(prefix="btcbot-bench-sync-", dir=where) as tmp:
        settings = load_settings(None, state_dir=Path(tmp), sim_step_seconds=300)
        times, counts = [], []
        for _ in range(cycles):
            with open_deps(settings) as deps:
                deps.store.db.conn.execute(f"PRAGMA synchronous = {mode}")
                counter = _count_commits(deps.store.db)
                started = time.perf_counter()
                run_cycle(deps, stage3_config(settings))
                times.append(time.perf_counter() - started)
                counts.append(counter())
        return statistics.median(times), statistics.median(counts)


def _count_commits(db: Database) -> Any:
    """Count top-level transactions opened on `db` from now on (wraps its `atomic`)."""
    original, seen = db.atomic, [0]

    def counting(*args: Any, **kwargs: Any) -> Any:
        if db._depth == 0:  # noqa: SLF001 - a benchmark's peek
            seen[0] += 1
        return original(*args, **kwargs)

    db.atomic = counting  # type: ignore[method-assign]
    return lambda: seen[0]


if __name__ == "__main__":
    main()
