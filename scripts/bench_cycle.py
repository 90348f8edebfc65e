#!/usr/bin/env python3
"""Benchmark: live-armed stage-3 cycles against the BTCTurk-shaped simulator server on 127.0.0.1 with an
injected latency. Prints requests per cycle (by endpoint) and cycle wall time vs the critical path of
dependent round trips (SPEC R-PERF: wall ≤ 1.5 × critical path; requests ≤ symbols + 4 in steady state).

    .venv/bin/python scripts/bench_cycle.py [--cycles 20] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

CONCURRENT_REFRESH = ("/api/v2/orderbook", "/api/v1/users/balances", "/api/v1/openorders",
                      "/api/v1/users/transactions/trade")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()

    from btcbot.adapters.sim.faults import FaultPlan
    from btcbot.adapters.sim.server import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimServer, open_server_sim
    from btcbot.bootstrap import open_deps, stage3_config
    from btcbot.config import load_settings
    from btcbot.services.cycle import run_cycle

    tmp = Path(tempfile.mkdtemp(prefix="btcbot-bench-"))
    sim = open_server_sim(tmp / "server", seed=1, tick_seconds=1)
    server = SimServer(sim, FaultPlan.parse(f"latency={args.latency_ms}ms")).start()
    symbols = "BTCTRY,ETHTRY,USDTTRY"
    os.environ.update({
        "BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": server.url, "BTCTURK_API_KEY": DEFAULT_API_KEY,
        "BTCTURK_API_SECRET": DEFAULT_API_SECRET, "BTCBOT_DRY_RUN": "false", "BTCBOT_KILL_SWITCH": "false",
        "BTCBOT_LIVE_TRADING": "true", "BTCBOT_LIVE_TRADING_ACK": "I_UNDERSTAND",
        "BTCBOT_STATE_DIR": str(tmp / "bot"), "BTCBOT_SYMBOLS": symbols,
    })
    rtt = args.latency_ms / 1000
    rows = []
    try:
        for _ in range(args.cycles):
            settings = load_settings()
            start_seq = len(server.requests())
            opened = time.perf_counter()
            with open_deps(settings) as deps:
                started = time.perf_counter()
                report = run_cycle(deps, stage3_config(settings))
                wall = time.perf_counter() - started
            setup = started - opened
            reqs = server.requests()[start_seq:]
            by_endpoint = Counter(f"{e['method']} {e['path'].split('?')[0].lower()}" for e in reqs)
            sequential = sum(1 for e in reqs if not e["path"].lower().startswith(CONCURRENT_REFRESH))
            writes = sum(1 for e in reqs if e["method"] in ("POST", "DELETE"))
            critical = (1 + sequential) * rtt
            rows.append((len(reqs), writes, wall, critical, by_endpoint, report.outcome, setup))
            time.sleep(0.5)
    finally:
        server.stop()
        sim.close()
    n_symbols = len(symbols.split(","))
    steady = rows[1:]  # the first cycle also fetches exchangeinfo (then cached for 1 h)
    reads = [r[0] - r[1] for r in steady]
    print(f"cycles: {len(rows)}  symbols: {n_symbols}  injected latency: {args.latency_ms} ms")
    print(f"first cycle requests: {rows[0][0]} ({dict(rows[0][4])})")
    print(f"steady-state reads per cycle: median {statistics.median(reads)}, max {max(reads)} "
          f"(budget symbols + 4 = {n_symbols + 4}); writes per cycle: median "
          f"{statistics.median(r[1] for r in steady)}")
    worst = max(steady, key=lambda r: r[0] - r[1])
    print(f"busiest steady cycle: {dict(worst[4])}")
    if rtt > 0:
        ratios = [r[2] / r[3] for r in steady]
        print(f"cycle wall / critical path: median {statistics.median(ratios):.2f}, max {max(ratios):.2f} "
              f"(budget 1.5; critical path = (1 concurrent refresh round + sequential requests) x latency)")
    print(f"cycle wall time: median {statistics.median(r[2] for r in steady) * 1000:.0f} ms; process setup "
          f"(lock, SQLite, HTTP client): median {statistics.median(r[6] for r in steady) * 1000:.0f} ms")
    print(f"outcomes: {Counter(r[5] for r in rows)}")


if __name__ == "__main__":
    main()
