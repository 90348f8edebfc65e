#!/usr/bin/env python3
"""Benchmark: live-armed stage-3 cycles against the BTCTurk-shaped simulator server on 127.0.0.1 with an
injected latency. Prints requests per cycle (by endpoint) and cycle wall time vs the critical path of
dependent round trips (SPEC R-PERF: wall ≤ 1.5 × critical path; requests ≤ symbols + 4 in steady state), as
the median and the 95th percentile over the steady cycles (issue 10's goals: median ≤ 1.3, p95 ≤ 1.5), and the
bot's CPU time per cycle.

    .venv/bin/python scripts/bench_cycle.py [--cycles 100] [--latency-ms 50] [--in-process]

By default the exchange (`btcbot sim serve`) runs in its own process, as a real exchange would: its CPU time
(signatures, matching, SQLite) is then not charged to the bot's cycle through the shared GIL. `--in-process`
serves it from a thread of this process instead (the bot then pays for both sides).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CONCURRENT_REFRESH = ("/api/v2/orderbook", "/api/v1/users/balances", "/api/v1/openorders",
                      "/api/v1/users/transactions/trade")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--in-process", action="store_true", help="serve the exchange from a thread of this process")
    parser.add_argument("--interval", type=float, default=1.1,
                        help="seconds from one cycle's start to the next (the default keeps 3 order books a cycle "
                             "within the order-book limit, 180/min: faster, the client-side limiter makes cycles "
                             "wait and the figures measure that wait)")
    parser.add_argument("--floor-rounds", type=int, default=15,
                        help="bare rounds of the same six reads (no journal, no bot logic) timed first: the floor "
                             "that the exchange itself (here the simulator's HTTP handling and market ticks) sets")
    parser.add_argument("--verbose", action="store_true", help="print every cycle")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="btcbot-bench-"))
    serve = _thread_server if args.in_process else _process_server
    with serve(tmp / "server", f"latency={args.latency_ms}ms") as (url, requests):
        _bench(args, tmp, url, requests)


@contextlib.contextmanager
def _thread_server(state: Path, faults: str) -> Iterator[tuple[str, Callable[[], list[dict[str, Any]]]]]:
    from btcbot.adapters.sim.faults import FaultPlan
    from btcbot.adapters.sim.server import SimServer, open_server_sim

    sim = open_server_sim(state, seed=1, tick_seconds=1)
    server = SimServer(sim, FaultPlan.parse(faults)).start()
    try:
        yield server.url, server.requests
    finally:
        server.stop()
        sim.close()


@contextlib.contextmanager
def _process_server(state: Path, faults: str) -> Iterator[tuple[str, Callable[[], list[dict[str, Any]]]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "btcbot", "sim", "serve", "--port", "0", "--state-dir", str(state), "--seed", "1",
         "--tick-seconds", "1", "--faults", faults],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "BTCBOT_STATE_DIR": str(state)},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on " not in line:
            raise SystemExit(f"btcbot sim serve did not start: {line!r}")
        url = line.rsplit("listening on ", 1)[1].strip()

        def requests() -> list[dict[str, Any]]:
            with urllib.request.urlopen(url + "/__sim/requests") as reply:
                return json.load(reply)["requests"]  # type: ignore[no-any-return]

        yield url, requests
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _bench(args: argparse.Namespace, tmp: Path, url: str, requests: Callable[[], list[dict[str, Any]]]) -> None:
    from btcbot.adapters.sim.server import DEFAULT_API_KEY, DEFAULT_API_SECRET
    from btcbot.bootstrap import open_deps, stage3_config
    from btcbot.config import load_settings
    from btcbot.services.cycle import run_cycle

    symbols = "BTCTRY,ETHTRY,USDTTRY"
    os.environ.update({
        "BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": url, "BTCTURK_API_KEY": DEFAULT_API_KEY,
        "BTCTURK_API_SECRET": DEFAULT_API_SECRET, "BTCBOT_DRY_RUN": "false", "BTCBOT_KILL_SWITCH": "false",
        "BTCBOT_LIVE_TRADING": "true", "BTCBOT_LIVE_TRADING_ACK": "I_UNDERSTAND",
        "BTCBOT_STATE_DIR": str(tmp / "bot"), "BTCBOT_SYMBOLS": symbols,
    })
    rtt = args.latency_ms / 1000
    floor = _floor(args, symbols.split(","))
    rows = []
    for _ in range(args.cycles):
        paced = time.perf_counter() + args.interval
        gc.collect()  # this loop's own garbage (request logs, rows) is not the cycle's: a full collection it would
        # trigger inside a timed cycle costs ~10 ms; a cron process, one cycle from a fresh start, has none of it
        settings = load_settings()
        start_seq = len(requests())
        opened = time.perf_counter()
        with open_deps(settings) as deps:
            started, cpu_started = time.perf_counter(), time.process_time()
            report = run_cycle(deps, stage3_config(settings))
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        setup = started - opened
        reqs = requests()[start_seq:]
        by_endpoint = Counter(f"{e['method']} {e['path'].split('?')[0].lower()}" for e in reqs)
        sequential = sum(1 for e in reqs if not e["path"].lower().startswith(CONCURRENT_REFRESH))
        writes = sum(1 for e in reqs if e["method"] in ("POST", "DELETE"))
        critical = (1 + sequential) * rtt
        fills = len(report.fills.new) if report.fills else 0
        stages = " ".join(f"{k} {v * 1000:.1f}" for k, v in report.timings.items())
        rows.append((len(reqs), writes, wall, critical, by_endpoint, report.outcome, setup, cpu, fills, stages))
        time.sleep(max(0.05, paced - time.perf_counter()))
    n_symbols = len(symbols.split(","))
    steady = rows[1:]  # the first cycle also fetches exchangeinfo (then cached for 1 h)
    reads = [r[0] - r[1] for r in steady]
    where = "a thread of this process" if args.in_process else "its own process"
    print(f"cycles: {len(rows)}  symbols: {n_symbols}  injected latency: {args.latency_ms} ms  exchange: {where}")
    print(f"first cycle requests: {rows[0][0]} ({dict(rows[0][4])})")
    print(f"steady-state reads per cycle: median {statistics.median(reads)}, max {max(reads)} "
          f"(budget symbols + 4 = {n_symbols + 4}); writes per cycle: median "
          f"{statistics.median(r[1] for r in steady)}")
    worst = max(steady, key=lambda r: r[0] - r[1])
    print(f"busiest steady cycle: {dict(worst[4])}")
    if rtt > 0:
        ratios = [r[2] / r[3] for r in steady]
        print(f"cycle wall / critical path: median {statistics.median(ratios):.2f} (goal 1.3), p95 "
              f"{_p95(ratios):.2f} (goal 1.5), max {max(ratios):.2f}; critical path = (1 concurrent refresh round "
              "+ sequential requests) x latency")
    if floor:
        quiet = [r[2] for r in steady if r[1] == 0 and r[0] - r[1] == 6]
        print(f"floor (a bare round of the 6 reads, no journal): median {statistics.median(floor) * 1000:.1f} ms "
              f"({statistics.median(floor) / rtt if rtt else 0:.2f} x latency), p95 {_p95(floor) * 1000:.1f} ms; "
              f"no-write cycles: median wall {statistics.median(quiet) * 1000:.1f} ms, the bot's own time on top of "
              f"the floor {(statistics.median(quiet) - statistics.median(floor)) * 1000:.1f} ms" if quiet else "")
    print(f"bot CPU per cycle (this process, the exchange excluded unless --in-process): median "
          f"{statistics.median(r[7] for r in steady) * 1000:.1f} ms, p95 {_p95([r[7] for r in steady]) * 1000:.1f} ms")
    print(f"cycle wall time: median {statistics.median(r[2] for r in steady) * 1000:.0f} ms; process setup "
          f"(lock, SQLite, HTTP client): median {statistics.median(r[6] for r in steady) * 1000:.0f} ms")
    print(f"outcomes: {Counter(r[5] for r in rows)}")
    if args.verbose:
        for n, r in enumerate(rows, 1):
            print(f"  cycle {n:3d}: wall {r[2] * 1000:6.1f} ms, critical {r[3] * 1000:5.0f} ms, "
                  f"ratio {r[2] / r[3]:.2f}, {r[0]} requests ({r[1]} writes), CPU {r[7] * 1000:.1f} ms, "
                  f"{r[8]} new fills; ms by stage: {r[9]}")


def _floor(args: argparse.Namespace, symbols: list[str]) -> list[float]:
    """Wall seconds of bare rounds of a steady cycle's six reads, each from a fresh client (as a cron process
    has) on fresh threads, paced like the cycles: what the exchange and the network cost without the bot."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime, timedelta

    from btcbot.bootstrap import btcturk_exchange
    from btcbot.config import load_settings

    rounds = []
    for _ in range(args.floor_rounds):
        paced = time.perf_counter() + args.interval
        exchange = btcturk_exchange(load_settings())  # no block store: nothing is written
        since = datetime.now(UTC) - timedelta(hours=1)
        calls: list[Callable[[], object]] = [*(lambda s=s: exchange.order_book(s) for s in symbols),
                                             exchange.balances, lambda: exchange.open_orders(symbols),
                                             lambda: exchange.fills(symbols, since)]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            for future in [pool.submit(call) for call in calls]:
                future.result()
        rounds.append(time.perf_counter() - started)
        exchange.close()
        time.sleep(max(0.05, paced - time.perf_counter()))
    return rounds[1:]


def _p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]


if __name__ == "__main__":
    main()
