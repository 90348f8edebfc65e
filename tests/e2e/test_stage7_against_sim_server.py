"""Issue 12 acceptance: `btcbot stage7-run`, live-armed, against `btcbot sim serve` on 127.0.0.1, with the
invariants of `btcbot run`; and `--dry-run` with every gate armed writing nothing to the venue."""

from __future__ import annotations

import json
import time

from rig import SYMBOLS, Rig

STAGE7 = "stage7-run"
BUCKET = {"BTCBOT_DEDUPE_BUCKET_SECONDS": "5"}  # one order per pair and side every 5 s (cycles are ~1 s apart)
FAULTS = ("latency=5ms~10ms,429=0.04:2s,5xx=0.04,timeout_after_accept=0.15:3s,drop_cancel_reply=0.4,late_fills=2s,"
          "seed=12")


def _conflicts(rig: Rig) -> list[dict[str, str]]:
    store = rig.store()
    try:
        return [dict(json.loads(e["detail"]), client_order_id=e["client_order_id"])
                for e in store.events() if e["kind"] == "IDEMPOTENCY_CONFLICT"]
    finally:
        store.close()


def _assert_conflicts_never_sent(rig: Rig) -> None:
    """A conflicting payload is never POSTed; the key's first order was POSTed at most once."""
    posted = rig.posted_client_ids()
    for conflict in _conflicts(rig):
        assert conflict["client_order_id"] not in posted, conflict
        assert posted.count(conflict["recorded_result"]) <= 1, conflict


def _live_cycles(rig: Rig, count: int, pause: float) -> tuple[int, int, list[str]]:
    submitted, filled, outcomes = 0, 0, []
    for _ in range(count):
        cycle = rig.cycle(command=STAGE7, **BUCKET)
        assert (cycle["stage"], cycle["mode"]) == ("7", "live"), cycle
        submitted += len(cycle["submitted"])
        filled += len(cycle["new_fills"])
        outcomes.append(cycle["outcome"])
        rig.assert_one_live_order_per_side()
        rig.assert_no_client_id_twice()
        time.sleep(pause)
    return submitted, filled, outcomes


def test_stage7_live_cycles_place_fill_and_keep_run_invariants(rig: Rig) -> None:
    submitted, filled, outcomes = _live_cycles(rig, 15, 0.6)
    assert outcomes == ["ok"] * 15
    assert submitted >= len(SYMBOLS) and filled > 0, (submitted, filled)
    _assert_conflicts_never_sent(rig)
    rig.assert_end_state(command=STAGE7)
    store = rig.store()
    stages = {o.stage for o in store.orders()}
    store.close()
    assert stages == {"7"}


def test_stage7_live_cycles_under_faults_keep_run_invariants(rig: Rig) -> None:
    rig.set_faults(FAULTS)
    submitted, _, outcomes = _live_cycles(rig, 15, 0.3)
    fired = {e["fault"] for e in rig.server.requests() if e["fault"]}
    assert fired, "no fault fired"
    assert submitted > 0 and outcomes.count("ok") >= 8, outcomes
    _assert_conflicts_never_sent(rig)
    rig.assert_end_state(command=STAGE7)


def test_stage7_dry_run_with_every_gate_armed_never_writes(rig: Rig) -> None:
    submitted = []
    for _ in range(3):
        cycle = rig.cycle("--dry-run", command=STAGE7)
        assert (cycle["mode"], cycle["venue"], cycle["stage"]) == ("dry-run", "paper", "7"), cycle
        submitted += cycle["submitted"]
    assert submitted  # it traded, on the paper account
    writes = [e for e in rig.server.requests() if e["method"] in ("POST", "DELETE")]
    assert writes == []
    reads = {e["path"].split("?")[0].lower() for e in rig.server.requests()}
    assert not any(p.startswith("/api/v1/") for p in reads)  # nothing about the account was even read
