#!/usr/bin/env python3
"""Benchmark: whole-process cost of the commands with a year of history vs an empty journal (R-PERF).

    .venv/bin/python scripts/make_history.py --state-dir /tmp/year      # once (about a minute)
    .venv/bin/python scripts/bench_history.py --grown /tmp/year [--runs 7] [--in-place]

Times, as whole processes (start-up included), on an empty state dir and on a copy of the grown one:
- `run`: `btcbot run` (dry-run on the built-in simulator; the market moves one minute per run, so orders rest,
  fill and are sold as in a cron loop);
- `no-op cycle`: `btcbot run` with the market held still (BTCBOT_SIM_STEP_SECONDS=1, under one tick), so after
  the first run there is nothing to place or cancel; also its in-process cycle time (the cycle's stage timings);
- `status`, `status --json`, and `reconcile` (a preview against the simulator; exit 0 = no difference).
Each is run once on each side first (warm-up, not counted: the first write to a copied journal pays its
integrity check), then `--runs` times, alternating the two sides and their order, and the medians are compared:
the goal is grown / empty <= 1.1 (README, Benchmarks). The copy keeps the grown dir untouched.

`--plans` instead runs, in this process on a copy of the grown dir, a cycle with the market moving, a no-op
cycle, a stage-4 cycle (each with what `run` does after it: metrics.prom and a notification to a closed local
port), `status` and a `reconcile` preview, records every SQL statement they execute, and prints each distinct
SELECT with its calls, its time on the grown journal and its `EXPLAIN QUERY PLAN`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL = 1.1
COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "run": (["run"], {"BTCBOT_SIM_STEP_SECONDS": "60"}),
    "no-op cycle": (["run", "--json"], {"BTCBOT_SIM_STEP_SECONDS": "1"}),
    "status": (["status"], {}),
    "status --json": (["status", "--json"], {}),
    "reconcile": (["reconcile"], {"BTCBOT_SIM_STEP_SECONDS": "1"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grown", type=Path, required=True, help="a state dir made by scripts/make_history.py")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command and side (median of them)")
    parser.add_argument("--in-place", action="store_true", help="use the grown dir itself instead of a copy")
    parser.add_argument("--only", action="append", choices=list(COMMANDS), help="time only this command")
    parser.add_argument("--plans", action="store_true", help="print the hot-path queries and their query plans")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="btcbot-bench-history-"))
    try:
        sides = {"empty": work / "empty", "grown": args.grown if args.in_place else work / "grown"}
        if not args.in_place:
            shutil.copytree(args.grown, sides["grown"], ignore=shutil.ignore_patterns("*.lock", "*-clean"))
        if args.plans:
            _plans(sides["grown"])
        else:
            _bench(sides, args.runs, args.only or list(COMMANDS), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(sides: dict[str, Path], runs: int, names: list[str], cwd: Path) -> None:
    times: dict[tuple[str, str], list[float]] = {}
    cycle_ms: dict[str, list[float]] = {side: [] for side in sides}
    exits: dict[tuple[str, str], set[int]] = {}
    for name in ["run", *names]:  # warm-up: the first run creates (empty) or checks (copied) the journal
        for path in sides.values():
            _time(name, path, cwd)
    for r in range(runs):
        for name in names:
            order = list(sides.items()) if r % 2 == 0 else list(sides.items())[::-1]
            for side, path in order:
                took, code, out = _time(name, path, cwd)
                times.setdefault((name, side), []).append(took)
                exits.setdefault((name, side), set()).add(code)
                if name == "no-op cycle" and code == 0:
                    cycle_ms[side].append(sum(json.loads(out)["timings_ms"].values()))
    load = os.getloadavg()[0]
    print(f"runs per command and side: {runs} (medians); 1-minute load average at the end: {load:.2f}")
    print(f"{'command':<15} {'empty ms':>9} {'grown ms':>9} {'ratio':>6}  vs goal {GOAL}  exit codes")
    for name in names:
        empty, grown = (statistics.median(times[(name, s)]) for s in ("empty", "grown"))
        ratio = grown / empty
        codes = ", ".join(f"{s} {sorted(exits[(name, s)])}" for s in ("empty", "grown"))
        print(f"{name:<15} {empty * 1000:9.0f} {grown * 1000:9.0f} {ratio:6.2f}  {ratio / GOAL:5.2f} of goal  {codes}")
    if all(cycle_ms.values()):
        empty_c, grown_c = (statistics.median(cycle_ms[s]) for s in ("empty", "grown"))
        print(f"{'(in-process)':<15} {empty_c:9.1f} {grown_c:9.1f} {grown_c / empty_c:6.2f}  no-op cycle's stage "
              "timings (refresh+reconcile+decide+execute)")


def _time(name: str, state_dir: Path, cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, exit code and stdout of one whole `btcbot` process."""
    args, env_extra = COMMANDS[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BTCBOT_", "BTCTURK_"))}
    env.update(env_extra, BTCBOT_STATE_DIR=str(state_dir))
    started = time.perf_counter()
    done = subprocess.run([*_btcbot(), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode not in (0, 4):
        raise SystemExit(f"btcbot {' '.join(args)} on {state_dir} exited {done.returncode}: {done.stderr.strip()}")
    return took, done.returncode, done.stdout


def _plans(state_dir: Path) -> None:
    """Trace every statement of the hot paths on `state_dir`; print each distinct SELECT's plan and time."""
    import re
    import sqlite3

    from btcbot.adapters.sqlite import db as journal
    from btcbot.bootstrap import open_deps, search_budget, stage3_config, stage4_config
    from btcbot.config import load_settings
    from btcbot.services.cycle import run_cycle
    from btcbot.services.recovery import run_reconcile
    from btcbot.services.status import collect_status

    seen: dict[str, tuple[str, dict[str, int]]] = {}
    phase = ["open"]

    def trace(sql: str) -> None:
        shape = re.sub(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b", "?", " ".join(sql.split()))
        if phase[0] != "setup" and shape.upper().startswith(("SELECT", "WITH")):
            counts = seen.setdefault(shape, (sql, {}))[1]
            counts[phase[0]] = counts.get(phase[0], 0) + 1

    connect = journal.Database._connect  # a benchmark watches every journal connection

    def traced(self: journal.Database) -> sqlite3.Connection:
        conn = connect(self)
        if self.path.endswith("btcbot.sqlite"):
            conn.set_trace_callback(trace)
        return conn

    journal.Database._connect = traced  # type: ignore[method-assign]
    os.environ["BTCBOT_SIM_STEP_SECONDS"] = "300"
    os.environ["BTCBOT_NOTIFY_URL"] = "http://127.0.0.1:9/hook"  # notifications on: their queries are traced too
    for _ in range(12):  # untraced: until a position is open (its exit queries run then)
        phase[0] = "setup"
        with open_deps(load_settings(None, state_dir=state_dir)) as deps:
            report = run_cycle(deps, stage3_config(deps.settings))
        if any(not p.is_flat for p in report.positions.values()):
            break
    for name, step, run in (("cycle", "60", "3"), ("no-op cycle", "1", "3"), ("stage-4 cycle", "60", "4"),
                            ("reconcile", "1", ""), ("status", "1", "")):
        os.environ["BTCBOT_SIM_STEP_SECONDS"] = step
        settings = load_settings(None, state_dir=state_dir)
        phase[0] = name
        if name == "status":
            collect_status(settings)
            continue
        if not run:
            with open_deps(settings) as deps:
                run_reconcile(deps, False, search_budget(settings))
            continue
        stage = (stage3_config if run == "3" else stage4_config)(settings)
        with open_deps(settings, record_failure_as=stage.name) as deps:  # as `btcbot run`: then metrics.prom
            run_cycle(deps, stage)
    journal.Database._connect = connect  # type: ignore[method-assign]
    conn = sqlite3.connect(f"{state_dir.absolute().as_uri()}/btcbot.sqlite?mode=ro", uri=True)
    for shape, (sql, counts) in sorted(seen.items(), key=lambda kv: -_timed(conn, kv[1][0])):
        took = _timed(conn, sql)
        calls = ", ".join(f"{p} x{n}" for p, n in counts.items())
        print(f"\n{took * 1000:7.2f} ms  {shape}\n           ({calls})")
        for row in conn.execute("EXPLAIN QUERY PLAN " + sql):
            print(f"           {row[3]}")


def _timed(conn: Any, sql: str) -> float:
    """Median seconds of three runs of a read-only statement."""
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        conn.execute(sql).fetchall()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def _btcbot() -> list[str]:
    script = Path(sys.executable).parent / "btcbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "btcbot"]


if __name__ == "__main__":
    main()
