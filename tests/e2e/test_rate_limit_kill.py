"""Issue 8 finding 10: a 429 block (and the window stamps) must survive a run that is SIGKILLed right after
receiving the 429; the next run must not call the blocked endpoint before the block ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

from rig import Rig

from btcbot.adapters.btcturk.limiter import DEFAULT_LIMITS


def _wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_sigkill_right_after_429_next_run_honours_block(rig: Rig) -> None:
    rig.cycle()  # rules cached, an order of ours resting: the next run reads fills and open orders
    # books get a 429 blocking them for 20 s; open orders hang, so the run is still busy when killed
    rig.set_faults("429@GET /api/v2/orderbook=1:20s,latency@GET /api/v1/openOrders=8s")
    env = {**os.environ, **rig.env}
    proc = subprocess.Popen([sys.executable, "-m", "btcbot", "run"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: any(e["status"] == 429 for e in rig.server.requests()))
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    seen = len(rig.server.requests())
    rig.set_faults("")
    store = rig.store()
    blocks, windows = store.load_blocks(), store.load_windows()
    store.close()
    assert "GET /api/v2/orderbook" in blocks, blocks
    # every request the venue saw (all within the last seconds) is in the next run's minute windows
    venue = Counter(e["endpoint"] for e in rig.server.requests() if e["endpoint"] in DEFAULT_LIMITS)
    handed_on = {endpoint: len(windows.get(f"{endpoint}#0", [])) for endpoint in venue}
    assert all(handed_on[e] >= n for e, n in venue.items()), (venue, handed_on)
    cycle = rig.cycle()
    assert cycle["exit_code"] in (0, 3)
    after = [e for e in rig.server.requests()[seen:] if e["endpoint"] == "GET /api/v2/orderbook"]
    assert after == [], after  # the block (20 s) is still running: no book read at all
