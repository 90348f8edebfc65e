"""Issue 7 acceptance: `btcbot stage4-run`, live-armed against `btcbot sim serve` on 127.0.0.1, keeps the same
invariants as `run` (under every fault kind, and alternating with `run`), never writes in --dry-run, and the
scripted recovery scenario is listed by `reconcile`, fixed by `--apply`, and clean on a second `reconcile`."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from rig import SYMBOLS, Rig

from btcbot.domain.models import Side

CHAOS = ("latency=5ms~10ms,429=0.04:2s,5xx=0.04,html502=0.03,malformed@GET=0.04,"
         "timeout_after_accept=0.15:3s,drop_cancel_reply=0.5,late_fills=2s,seed=9")


CHURN = {"BTCBOT_STALE_ORDER_SECONDS": "2"}  # orders are replaced by age every few cycles


def _chains(rig: Rig) -> Counter[str]:
    store = rig.store()
    try:
        return Counter(c.state.value for c in store.chains(limit=100_000))
    finally:
        store.close()


def test_stage4_chaos_every_fault_keeps_invariants_including_replaces(rig: Rig) -> None:
    rig.set_faults(CHAOS)
    outcomes = []
    for _ in range(35):
        cycle = rig.cycle(command="stage4-run", **CHURN)
        assert cycle["stage"] == "4" and cycle["mode"] == "live", cycle
        outcomes.append(cycle["outcome"])
        rig.assert_one_live_order_per_side()
        rig.assert_no_client_id_twice()
        time.sleep(0.15)
    kinds = rig.faults_fired()
    assert all(kinds.values()), kinds  # every fault kind really happened during the run
    assert outcomes.count("ok") > 15, outcomes
    chains = _chains(rig)
    state = json.loads(rig.run("status", "--json").stdout)["mode"]
    print(f"stage-4 chaos: outcomes {Counter(outcomes)}, chains {dict(chains)}, faults {kinds}, "
          f"state {state['trading_state']} {state['trading_state_reason']}")
    assert chains["REPLACED"] >= 2, chains  # replaces really happened, through the persisted machine
    rig.assert_no_overlapping_live_orders()  # old and new of a replace were never live together
    rig.assert_end_state(command="stage4-run")


def test_stage4_dry_run_with_every_gate_armed_sends_no_order_write(rig: Rig) -> None:
    for _ in range(3):
        cycle = rig.cycle("--dry-run", command="stage4-run")
        assert (cycle["mode"], cycle["venue"], cycle["stage"]) == ("dry-run", "paper", "4"), cycle
        assert cycle["missing_gates"] == ["BTCBOT_DRY_RUN is true"]
    writes = [e for e in rig.server.requests() if e["method"] in ("POST", "DELETE")]
    assert writes == []  # orders went to the paper account; the venue was only read
    assert any(e["path"].lower().startswith("/api/v2/orderbook") for e in rig.server.requests())
    status = json.loads(rig.run("status", "--json", BTCBOT_DRY_RUN="true").stdout)
    assert status["mode"]["venue"] == "paper" and status["open_orders"]


def test_run_and_stage4_run_alternate_on_one_state_dir_keep_invariants(rig: Rig) -> None:
    rig.set_faults("latency=5ms~10ms,5xx=0.03,timeout_after_accept=0.1:3s,drop_cancel_reply=0.3,seed=3")
    stages = []
    for n in range(20):
        cycle = rig.cycle(command="stage4-run" if n % 2 else "run", BTCBOT_STALE_ORDER_SECONDS="3")
        stages.append(cycle["stage"])
        rig.assert_one_live_order_per_side()
        rig.assert_no_client_id_twice()
        time.sleep(0.2)
    assert stages == ["3", "4"] * 10
    posted = {cid[:3] for cid in rig.posted_client_ids()}
    assert posted == {"bb3", "bb4"}  # both stages traded on the one journal
    rig.assert_end_state()


def test_recovery_hand_order_missed_fill_and_outside_cancel_listed_fixed_then_clean(still_rig: Rig) -> None:
    rig, sim = still_rig, still_rig.server.sim
    for _ in range(2):
        rig.cycle(command="stage4-run")
    ours = [o for o in sim.open_orders(SYMBOLS) if o.client_order_id and o.client_order_id.startswith("bb")]
    assert len(ours) >= 2, ours
    # the bot is not running from here on: the market moves and things happen on the exchange
    for _ in range(200):  # a fill the bot missed: one of its orders trades while it is down
        sim.advance(datetime.now(UTC), ticks=1)
        filled = [r for r in (sim.get_order(o.exchange_order_id) for o in ours) if r.filled_quantity > 0]
        if filled:
            break
    assert filled, "no order of the bot traded while the market moved"
    missed = filled[0]
    outside = next(o for o in ours if o.exchange_order_id != missed.exchange_order_id
                   and not sim.get_order(o.exchange_order_id).filled_quantity)
    sim.cancel_order(outside.exchange_order_id)  # cancelled outside the bot (web UI, another tool)
    rules = sim.rules("ETHTRY")
    price = rules.quantize_price(sim.mid("ETHTRY") * Decimal("0.9"), Side.BUY)
    by_hand = sim.submit_raw("ETHTRY", "buy", "limit", price, rules.min_quantity_at(price) * 2, "by-hand-1")
    time.sleep(0.5)  # the simulated venue completes cancels asynchronously

    listed = rig.run("reconcile", "--json")
    assert listed.exit_code == 4, listed.output
    diffs = json.loads(listed.stdout)["differences"]
    by_kind = {(d["kind"], d["subject"]) for d in diffs}
    assert ("EXTERNAL", f"venue order {by_hand.order_id}") in by_kind
    assert ("SETTLE", outside.client_order_id) in by_kind
    assert ("SETTLE", missed.client_order_id) in by_kind
    assert any(d["kind"] == "FILL" and str(missed.exchange_order_id) in d["venue"] for d in diffs)
    settled = {d["subject"]: d["venue"] for d in diffs if d["kind"] == "SETTLE"}
    assert settled[outside.client_order_id].startswith("Canceled")

    applied = rig.run("reconcile", "--apply")
    assert applied.exit_code == 0, applied.output
    clean = rig.run("reconcile", "--json")
    assert clean.exit_code == 0 and json.loads(clean.stdout)["differences"] == [], clean.output

    status = json.loads(rig.run("status", "--json").stdout)
    externals = [o for o in status["open_orders"] if o["external"]]
    assert [o["exchange_order_id"] for o in externals] == [str(by_hand.order_id)]
    store = rig.store()
    try:
        assert store.order(outside.client_order_id).status.value == "CANCELED"  # type: ignore[union-attr]
        assert store.order(missed.client_order_id).filled_quantity == missed.filled_quantity  # type: ignore[union-attr]
        assert {e["code"] for e in store.events() if e["code"] == "EXTERNAL_TAGGED"} == {"EXTERNAL_TAGGED"}
    finally:
        store.close()
    rig.cycle(command="stage4-run")  # trading resumes; the hand-placed order is never cancelled by the bot
    assert sim.get_order(by_hand.order_id).status.is_open
    rig.assert_positions_match_venue_fills()
