"""Crash points (R-REL-2, issue 8 item 14): `btcbot run`, live-armed against the BTCTurk-shaped simulator server,
is SIGKILLed at every write point of a cycle -- before and after each store transaction and each exchange call
(`btcbot/testhooks.py`) -- then recovery cycles run and the live-path invariants and the exact ledger must hold.

The points are not written down here: a listing run of the same cycle (`BTCBOT_TEST_CRASH_LIST`) names every
point it passes, so the harness follows the code as it changes. Three scenarios: the first cycle on a fresh
state (migrations, rules, first buys), and two busy cycles (fills to ingest, sells to place, a stale order to
cancel) that also find an earlier submit in flight, one that reached the venue and one that never left.
Each kill gets its own copy of the scenario's server and bot state (snapshots taken once).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rig import SYMBOLS, Rig, WireLog

from btcbot.adapters.sim.server import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimServer, open_server_sim

SEED = 5
BUSY_TICKS = 12  # seed 5, 12 ticks after the first cycle: fills, sells to place, a stale buy to cancel
RECOVERY = {"BTCBOT_UNKNOWN_ORDER_MAX_PROBES": "1", "BTCBOT_UNKNOWN_ORDER_MAX_AGE_SECONDS": "0"}
WRITE_POINTS = ("tx:", "http:")


@dataclass(frozen=True)
class Scenario:
    name: str
    server: Path  # snapshot of the server's state dir
    points: tuple[str, ...]  # every write point the killed cycle passes, `NAME#N`, in the order passed


def _env(url: str, state: Path) -> dict[str, str]:
    return {
        "BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": url, "BTCTURK_API_KEY": DEFAULT_API_KEY,
        "BTCTURK_API_SECRET": DEFAULT_API_SECRET, "BTCBOT_DRY_RUN": "false", "BTCBOT_KILL_SWITCH": "false",
        "BTCBOT_LIVE_TRADING": "true", "BTCBOT_LIVE_TRADING_ACK": "I_UNDERSTAND", "BTCBOT_STATE_DIR": str(state),
        "BTCBOT_SYMBOLS": ",".join(SYMBOLS), "BTCBOT_HTTP_TIMEOUT_SECONDS": "5",
    }


@dataclass
class Venue:
    """A server on a private copy of a scenario's snapshot (market frozen: one tick per hour)."""

    server: SimServer
    state: Path

    @classmethod
    def start(cls, snapshot: Path, root: Path) -> Venue:
        shutil.copytree(snapshot, root / "server")
        if (snapshot.parent / "bot").exists():
            shutil.copytree(snapshot.parent / "bot", root / "bot")
        sim = open_server_sim(root / "server", seed=SEED, tick_seconds=3600, cancel_delay=0)
        return cls(SimServer(sim).start(), root / "bot")

    def stop(self) -> None:
        self.server.stop()
        self.server.sim.close()


def _run_bot(venue: Venue, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **_env(venue.server.url, venue.state), **extra}
    return subprocess.run([sys.executable, "-m", "btcbot", "run"], env=env, capture_output=True, text=True,
                          timeout=120)


def _snapshot(root: Path, name: str, setup_kill: str | None) -> Scenario:
    """Build the scenario's starting state once, then list the write points its next cycle passes.

    `setup_kill`: a first cycle, killed at that point, places the first buys; the market then moves (fills, a
    stale order) and the cycle under test also finds the killed cycle's submit still in flight."""
    base = root / name / "snapshot"
    sim = open_server_sim(base / "server", seed=SEED, tick_seconds=3600, cancel_delay=0)
    server = SimServer(sim).start()
    try:
        if setup_kill is not None:
            env = {**os.environ, **_env(server.url, base / "bot"), "BTCBOT_TEST_CRASH_AT": setup_kill}
            setup = subprocess.run([sys.executable, "-m", "btcbot", "run"], env=env, capture_output=True, text=True,
                                   timeout=120)
            assert setup.returncode == -signal.SIGKILL, setup.stderr
            sim.advance(datetime.now(UTC), BUSY_TICKS)
    finally:
        server.stop()
        sim.close()
    listing = root / name / "listing"
    listing.mkdir(parents=True)
    venue = Venue.start(base / "server", listing)
    try:
        points_file = root / name / "points.txt"
        result = _run_bot(venue, BTCBOT_TEST_CRASH_LIST=str(points_file))
        assert result.returncode == 0, result.stderr
    finally:
        venue.stop()
    points = tuple(p for p in points_file.read_text().split("\n") if p.startswith(WRITE_POINTS))
    return Scenario(name, base / "server", points)


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Scenario]]:
    root = tmp_path_factory.mktemp("crash")
    yield [
        _snapshot(root, "first-cycle", None),  # migrations, rules, the first buys
        # the buy of the 2nd pair reached the venue but its reply was lost: adopted; fills, sells, a cancel
        _snapshot(root, "busy-lost-reply", "http:POST /api/v1/order:after#2"),
        # the buy of the 2nd pair was journaled but never sent: searched (openOrders, allOrders), probed
        _snapshot(root, "busy-unsent", "http:POST /api/v1/order:before#2"),
    ]
    shutil.rmtree(root, ignore_errors=True)


def _recover_and_check(venue: Venue, point: str) -> None:
    rig = Rig(venue.server, venue.state, _env(venue.server.url, venue.state), WireLog())
    for _ in range(2):
        cycle = rig.cycle(**RECOVERY)
        assert cycle["outcome"] == "ok", (point, cycle)
        rig.assert_one_live_order_per_side()
    applied = rig.run("reconcile", "--apply", **RECOVERY)
    assert applied.exit_code == 0, (point, applied.output)
    again = rig.run("reconcile", "--json", **RECOVERY)
    assert again.exit_code == 0 and json.loads(again.stdout)["differences"] == [], (point, again.output)
    rig.assert_no_client_id_twice()  # this run's requests ...
    venue_ids = Counter(o.client_order_id for s in SYMBOLS for o in venue.server.sim.all_orders(s, None, 100_000)
                        if (o.client_order_id or "").startswith("bb"))
    assert [cid for cid, n in venue_ids.items() if n > 1] == [], point  # ... and the venue's whole history
    rig.assert_venue_orders_known_locally()  # same ids, agreeing status, nothing UNKNOWN/SUBMITTING left
    rig.assert_positions_match_venue_fills()  # quantity and fees_paid to the last unit


def _kill_and_recover(server_snapshot: str, scenario: str, index: int, point: str, root: str) -> str | None:
    """One kill and its recovery, in a worker process; None when every check held, else what failed."""
    where = Path(root) / f"{scenario}-{index}"
    try:
        venue = Venue.start(Path(server_snapshot), where)
        try:
            killed = _run_bot(venue, BTCBOT_TEST_CRASH_AT=point)
            if killed.returncode != -signal.SIGKILL:
                return f"{scenario} {point}: not reached (exit {killed.returncode}): {killed.stderr[-2000:]}"
            _recover_and_check(venue, f"{scenario} {point}")
        finally:
            venue.stop()
            shutil.rmtree(where, ignore_errors=True)
    except BaseException:
        return f"{scenario} {point}:\n{traceback.format_exc()}"
    return None


def test_sigkill_at_every_write_point_of_a_cycle_then_recovery_keeps_invariants(
        scenarios: list[Scenario], tmp_path: Path) -> None:
    started = time.monotonic()
    for scenario in scenarios:
        assert any(p.startswith("http:POST") for p in scenario.points), scenario.points  # the listing is real
    every = [p for s in scenarios for p in s.points]
    for kind in ("tx:migrate", "http:POST", "http:DELETE", "http:GET /api/v1/allOrders", "record_fills",
                 "note_probe", "tx:Store.finish_cycle"):  # the scenarios reach every kind of write
        assert any(p.startswith(kind) or kind in p for p in every), kind
    jobs = [(str(s.server), s.name, i, p, str(tmp_path)) for s in scenarios for i, p in enumerate(s.points)]
    # two workers (fresh interpreters, each with its own server): a kill and a recovery at a time on each core
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        failures = [f for f in pool.map(_kill_and_recover, *zip(*jobs, strict=True)) if f is not None]
    assert failures == [], f"{len(failures)} of {len(jobs)} crash points failed; first:\n" + "\n".join(failures[:2])
    print(f"\ncrash points covered: {len(jobs)} in {time.monotonic() - started:.0f} s")
