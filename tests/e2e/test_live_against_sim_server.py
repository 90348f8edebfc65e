"""Issue 3 acceptance: the real CLI, live-armed, against `btcbot sim serve` on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from rig import SYMBOLS, Rig

from btcbot.domain.order_fsm import OrderStatus

CHAOS = ("latency=5ms~10ms,429=0.03:2s,5xx=0.03,html502=0.02,malformed@GET=0.03,"
         "timeout_after_accept=0.15:3s,drop_cancel_reply=0.5,late_fills=2s,seed=4")


def test_clean_live_cycles_place_fill_and_cancel(rig: Rig) -> None:
    submitted, filled = 0, 0
    for _ in range(12):
        cycle = rig.cycle()
        assert cycle["mode"] == "live" and cycle["outcome"] == "ok", cycle
        submitted += len(cycle["submitted"])
        filled += len(cycle["new_fills"])
        rig.assert_one_live_order_per_side()
        time.sleep(0.8)
    assert submitted >= len(SYMBOLS)
    assert filled > 0
    store = rig.store()
    cancel_events = [e for e in store.events() if e["code"] in ("CANCEL_STALE_AGE", "REPLACE_PRICE_MOVED")]
    store.close()
    assert cancel_events, "the stale-order policy never cancelled anything"
    rig.assert_end_state()


def test_chaos_fifty_cycles_every_fault_keeps_invariants(rig: Rig) -> None:
    rig.set_faults(CHAOS)
    outcomes = []
    for _ in range(55):
        cycle = rig.cycle(BTCBOT_STALE_ORDER_SECONDS="2")  # churn: many cancels and replacements
        outcomes.append(cycle["outcome"])
        rig.assert_one_live_order_per_side()
        rig.assert_no_client_id_twice()
        time.sleep(0.15)
    kinds = rig.faults_fired()
    deletes = sum(1 for e in rig.server.requests() if e["method"] == "DELETE")
    assert all(kinds.values()), (kinds, deletes)  # every fault kind really happened during the run
    assert outcomes.count("ok") > 25
    rig.assert_end_state()


def test_sigkill_during_post_then_more_cycles_no_duplicate(rig: Rig) -> None:
    rig.cycle()  # a first cycle: rules cached, baseline taken, buys placed
    rig.wind_down()
    assert rig.run("resume").exit_code == 0
    rig.set_faults("latency@POST /api/v1/order=3s")
    before = set(rig.posted_client_ids())  # the first cycle's POSTs: the kill must wait for a new one
    env = {**os.environ, **rig.env, "BTCBOT_UNKNOWN_ORDER_MAX_AGE_SECONDS": "30"}
    proc = subprocess.Popen([sys.executable, "-m", "btcbot", "run"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def new_posts() -> list[str]:
        return [cid for cid in rig.posted_client_ids() if cid not in before]

    try:
        deadline = time.monotonic() + 30
        while not new_posts() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert new_posts(), "the run never reached its POST"
        proc.send_signal(signal.SIGKILL)  # the POST is held 3 s by the server: killed while it is in flight
        proc.wait(timeout=10)
    finally:
        proc.kill()
    killed_cid = new_posts()[0]
    store = rig.store()
    in_flight = store.order(killed_cid)
    store.close()
    assert in_flight is not None and in_flight.status is OrderStatus.SUBMITTING  # killed between journal and reply
    rig.set_faults("")
    for _ in range(8):
        rig.cycle(BTCBOT_UNKNOWN_ORDER_MAX_AGE_SECONDS="30")
        rig.assert_one_live_order_per_side()
        time.sleep(0.6)
    store = rig.store()
    adopted = store.order(killed_cid)
    store.close()
    assert adopted is not None and adopted.exchange_order_id is not None, "the order that landed was not adopted"
    rig.assert_end_state()


def test_overlapping_runs_exactly_one_runs(rig: Rig) -> None:
    rig.set_faults("latency=400ms")  # the first run holds the lock for seconds, even on a slow start
    env = {**os.environ, **rig.env}
    procs = [subprocess.Popen([sys.executable, "-m", "btcbot", "run"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = sorted(p.wait(timeout=60) for p in procs)
    assert codes == [0, 75]
    store = rig.store()
    cycles = store.db.query("SELECT COUNT(*) AS n FROM cycles")[0]["n"]
    store.close()
    assert cycles == 1
    rig.set_faults("")
    rig.assert_end_state()


def test_dry_run_on_btcturk_trades_paper_and_never_writes(rig: Rig) -> None:
    paper_env = {"BTCBOT_DRY_RUN": "true"}
    for _ in range(3):
        cycle = rig.cycle(**paper_env)
        assert cycle["mode"] == "dry-run" and cycle["venue"] == "paper", cycle
    writes = [e for e in rig.server.requests() if e["method"] in ("POST", "DELETE")]
    assert writes == []  # rules and books were read from the exchange; orders went to the paper account
    reads = {e["path"].split("?")[0].lower() for e in rig.server.requests()}
    assert "/api/v2/orderbook" in reads
    assert not any(p.startswith("/api/v1/") for p in reads)  # no private endpoint: nothing about the account
    status = rig.run("status", "--json", **paper_env)
    assert '"venue": "paper"' in status.stdout
