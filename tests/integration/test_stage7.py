"""Stage 7 through the one cycle and execution core: hard idempotency against the in-process simulator, the
stage-7 runner (earlier stages under the same lock) and `btcbot stage7-run` through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import stage3_config, stage7_config
from btcbot.cli import app
from btcbot.config import load_settings
from btcbot.domain.events import EventKind
from btcbot.domain.idempotency import submit_key
from btcbot.domain.ids import bucket_of
from btcbot.domain.models import Intent, Side
from btcbot.domain.oms import OmsState
from btcbot.domain.planner import Plan
from btcbot.services.execution import ExecutionContext, ExecutionReport, execute
from btcbot.services.stage7 import run_stage7

runner = CliRunner()
T0 = datetime(2026, 11, 21, 9, 0, 10, tzinfo=UTC)
RUN_KEYS = {"cycle_id", "stage", "outcome", "exit_code", "error", "mode", "venue", "missing_gates", "symbols",
            "trading_state", "stale", "intents", "dropped", "submitted", "cancel_requested", "unknown", "rejected",
            "new_fills", "timings_ms"}


@dataclass
class FakeClock:
    at: datetime = T0

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[tuple[SimExchange, Store, FakeClock]]:
    clock = FakeClock()
    sim = SimExchange.open(None, SimConfig(seed=3, auto_advance=False, flow_probability=Decimal(0)), clock)
    store = Store.open(tmp_path / "state", "sim")
    yield sim, store, clock
    store.close()
    sim.close()


def _execute(venue: tuple[SimExchange, Store, FakeClock], intents: list[Intent], *, idempotency: bool = True,
             stage: str = "7") -> ExecutionReport:
    sim, store, clock = venue
    cycle_id = store.start_cycle(stage, "dry-run", clock.now())
    ctx = ExecutionContext(
        exchange=sim, store=store, stage=stage, cycle_id=cycle_id, now=clock.now(), dry_run=True,
        rules={r.symbol: r for r in sim.exchange_info()}, free={b.asset: b.free for b in sim.balances()},
        bucket_seconds=60, max_order_notional=lambda rules: Decimal("1000"), write_gate=lambda side: None,
        idempotency=idempotency,
    )
    return execute(Plan(submits=intents), ctx)


def _buy(sim: SimExchange, ticks_below: int) -> Intent:
    bid = sim.order_book("BTCTRY").best_bid
    assert bid is not None
    return Intent("BTCTRY", Side.BUY, bid - ticks_below, Decimal("0.0001"), "allocation_buy")


def _venue_orders(sim: SimExchange) -> list[object]:
    return list(sim.all_orders("BTCTRY", start=None, limit=1000))


# -- hard idempotency in the execution core ---------------------------------------------------------------
def test_idempotency_other_payload_same_key_is_a_conflict_event_and_not_sent(
        venue: tuple[SimExchange, Store, FakeClock]) -> None:
    sim, store, clock = venue
    first = _execute(venue, [_buy(sim, 0)])
    [placed] = first.submitted
    second = _execute(venue, [_buy(sim, 5)])  # same pair, side and bucket; another price
    assert second.submitted == [] and [d.code for d in second.denied] == ["IDEMPOTENCY_CONFLICT"]
    assert len(_venue_orders(sim)) == 1
    [event] = store.events(kind=EventKind.IDEMPOTENCY_CONFLICT)
    detail = json.loads(event["detail"])
    key = submit_key("sim", "7", "BTCTRY", Side.BUY, bucket_of(clock.now(), 60))
    assert (event["code"], detail["key"], detail["recorded_result"]) == ("IDEMPOTENCY_CONFLICT", key,
                                                                         placed.client_order_id)
    assert detail["recorded_payload_hash"] == placed.intent_hash != detail["payload_hash"]
    record = store.idempotency_record(key)
    assert record is not None and record.payload_hash == placed.intent_hash  # the first claim stays in force
    assert store.order(event["client_order_id"]) is None  # the conflicting order was never journaled


def test_idempotency_repeated_conflict_is_recorded_once(venue: tuple[SimExchange, Store, FakeClock]) -> None:
    sim, store, _ = venue
    _execute(venue, [_buy(sim, 0)])
    for _ in range(3):
        assert [d.code for d in _execute(venue, [_buy(sim, 5)]).denied] == ["IDEMPOTENCY_CONFLICT"]
    assert len(store.events(kind=EventKind.IDEMPOTENCY_CONFLICT)) == 1  # deterministic event id, INSERT OR IGNORE


def test_idempotency_same_payload_same_key_is_a_noop(venue: tuple[SimExchange, Store, FakeClock]) -> None:
    sim, store, _ = venue
    _execute(venue, [_buy(sim, 0)])
    again = _execute(venue, [_buy(sim, 0)])
    assert again.submitted == [] and again.denied == [] and len(again.deduped) == 1
    assert len(_venue_orders(sim)) == 1
    replays = [e for e in store.events(kind=EventKind.ACTION_DEDUPED) if e["code"] == "IDEMPOTENT_REPLAY"]
    assert len(replays) == 1


def test_idempotency_next_bucket_takes_the_new_payload(venue: tuple[SimExchange, Store, FakeClock]) -> None:
    sim, _, clock = venue
    _execute(venue, [_buy(sim, 0)])
    clock.at += timedelta(seconds=60)
    assert len(_execute(venue, [_buy(sim, 5)]).submitted) == 1
    assert len(_venue_orders(sim)) == 2


def test_idempotency_off_stage_sends_the_second_payload(venue: tuple[SimExchange, Store, FakeClock]) -> None:
    sim, store, _ = venue
    _execute(venue, [_buy(sim, 0)], idempotency=False, stage="3")
    assert len(_execute(venue, [_buy(sim, 5)], idempotency=False, stage="3").submitted) == 1
    assert store.events(kind=EventKind.IDEMPOTENCY_CONFLICT) == []


def test_idempotency_claim_rolled_back_when_the_action_was_already_taken(
        venue: tuple[SimExchange, Store, FakeClock]) -> None:
    sim, store, clock = venue
    intent = _buy(sim, 0)
    _execute(venue, [intent], idempotency=False)  # journaled without a key (e.g. before the stage had keys)
    again = _execute(venue, [intent])
    assert len(again.deduped) == 1 and len(_venue_orders(sim)) == 1
    assert store.idempotency_record(submit_key("sim", "7", "BTCTRY", Side.BUY, bucket_of(clock.now(), 60))) is None


def test_status_change_events_carry_the_stage7_name(venue: tuple[SimExchange, Store, FakeClock]) -> None:
    sim, store, _ = venue
    _execute(venue, [_buy(sim, 0)])
    [acked] = [json.loads(e["detail"]) for e in store.events(kind=EventKind.ORDER_STATUS_CHANGED)]
    assert (acked["to"], acked["oms"]) == ("OPEN", OmsState.ACKED.value)


# -- the runner: earlier stages under the same lock -------------------------------------------------------
def test_run_stage7_runs_earlier_stage_first_through_the_same_cycle(tmp_path: Path) -> None:
    from btcbot.bootstrap import open_deps

    settings = load_settings(state_dir=tmp_path / "state", sim_step_seconds=60)
    with open_deps(settings) as deps:
        result = run_stage7(deps, stage7_config(settings), (stage3_config(settings),))
        cycles = deps.store.db.query("SELECT stage FROM cycles ORDER BY id")
    assert [r["stage"] for r in cycles] == ["3", "7"]
    assert [r.stage for r in result.first] == ["3"] and result.report.stage == "7"
    assert result.exit_code == 0


def test_stage7_config_is_stage3_with_allocation_and_idempotency() -> None:
    settings = load_settings()
    seven, three = stage7_config(settings), stage3_config(settings)
    assert (seven.name, seven.idempotency, three.idempotency) == ("7", True, False)
    assert seven.strategy.name == "target_allocation"
    assert (seven.risk, seven.plan, seven.budget, seven.bucket_seconds) == (three.risk, three.plan, three.budget,
                                                                            three.bucket_seconds)


# -- the command -------------------------------------------------------------------------------------------
def test_stage7_run_default_settings_places_and_fills_within_15_cycles(isolated_env: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "60")  # each run is one simulated minute, as from cron
    placed, filled, cycles = 0, 0, 0
    while cycles < 15 and not (placed and filled):
        result = runner.invoke(app, ["stage7-run", "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        placed, filled, cycles = placed + len(data["submitted"]), filled + len(data["new_fills"]), cycles + 1
    assert placed > 0 and filled > 0, (placed, filled, cycles)
    store = Store.open(isolated_env, "sim")
    stage7_orders = [o for o in store.orders() if o.stage == "7"]
    store.close()
    assert stage7_orders and all(o.client_order_id.startswith("bb7") and o.dry_run for o in stage7_orders)


def test_stage7_run_json_has_run_keys_plus_oms(isolated_env: Path) -> None:
    result = runner.invoke(app, ["stage7-run", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= RUN_KEYS | {"oms", "first"}
    assert data["stage"] == "7" and data["first"] == []
    assert {o["oms_state"] for o in data["oms"]} == {"ACKED"}
    for order in data["oms"]:
        assert isinstance(order["price"], str) and isinstance(order["quantity"], str)
        assert order["client_order_id"] in data["submitted"]


def test_stage7_run_table_lists_orders_in_oms_vocabulary(isolated_env: Path) -> None:
    result = runner.invoke(app, ["stage7-run"])
    assert result.exit_code == 0, result.output
    assert "stage 7" in result.stdout and "orders (OMS)" in result.stdout and "ACKED" in result.stdout


def test_stage7_run_with_stage4_runs_a_stage4_cycle_first_under_one_lock(isolated_env: Path) -> None:
    result = runner.invoke(app, ["stage7-run", "--with-stage4", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [c["stage"] for c in data["first"]] == ["4"] and data["stage"] == "7"
    assert data["first"][0]["exit_code"] == 0
    store = Store.open(isolated_env, "sim")
    try:
        stages = [r["stage"] for r in store.db.query("SELECT stage FROM cycles ORDER BY id")]
        placed = {r["stage"] for r in store.db.query("SELECT DISTINCT stage FROM orders")}
    finally:
        store.close()
    assert stages == ["4", "7"]  # stage 4 first, then stage 7, in one run
    assert "4" in placed  # the stage-4 cycle traded through the same execution core


def test_stage7_run_bad_weights_exit_2_naming_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_TARGET_WEIGHTS", "BTC=0.7,ETH=0.7")
    result = runner.invoke(app, ["stage7-run"])
    assert result.exit_code == 2
    assert "BTCBOT_TARGET_WEIGHTS: the weights add up to 1.4, more than 1" in result.output
    assert "Traceback" not in result.output
