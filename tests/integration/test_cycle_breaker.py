"""The circuit breaker around every cycle (R-REL-1; issue 8 item 13): persisted, evented, refusing cycles
without calling the exchange while open, probing after the cool-off."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from faulty import Rig, cycle
from typer.testing import CliRunner

from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import stage3_config
from btcbot.cli import app
from btcbot.domain.breaker import Breaker, BreakerState, Step
from btcbot.domain.errors import AuthFailed, Unavailable
from btcbot.domain.events import EventKind
from btcbot.services.cycle import CycleReport, run_cycle

runner = CliRunner()


def _aborted(rig: Rig) -> CycleReport:
    deps, _, clock = rig
    clock.at += timedelta(minutes=1)
    report = run_cycle(deps, stage3_config(deps.settings))
    assert report.exit_code == 3, report.error
    return report


def _changes(rig: Rig) -> list[tuple[str, str, str]]:
    rows = rig[0].store.events(kind=EventKind.BREAKER_CHANGED)
    return [(r["code"], json.loads(r["detail"])["from"], json.loads(r["detail"])["to"]) for r in rows]


def test_breaker_failed_cycles_open_it_then_cycles_exit_3_calling_nothing(rig: Rig) -> None:
    deps, faulty, _ = rig
    faulty.open_orders_error = Unavailable("openOrders: HTTP 503")
    outcomes = [_aborted(rig).outcome for _ in range(5)]  # default: 5 failures in 15 min open it
    assert outcomes == ["aborted"] * 5
    assert deps.store.breaker().state is BreakerState.OPEN
    assert _changes(rig) == [("TRIP", "closed", "open")]
    faulty.open_orders_error, faulty.calls = None, []
    refused = _aborted(rig)
    assert (refused.outcome, faulty.calls) == ("breaker_open", [])  # nothing sent, not even a read
    assert "next probe at" in refused.error
    last = deps.store.db.query_one("SELECT outcome, exit_code FROM cycles ORDER BY id DESC LIMIT 1")
    assert (last["outcome"], last["exit_code"]) == ("breaker_open", 3)  # type: ignore[index]
    assert deps.store.breaker().failures == 5  # a refused cycle is not counted


def test_breaker_auth_failure_opens_it_at_once(rig: Rig) -> None:
    faulty = rig[1]
    faulty.open_orders_error = AuthFailed("openOrders: HTTP 401 Unauthorized - Invalid Signature")
    _aborted(rig)
    assert rig[0].store.breaker().state is BreakerState.OPEN
    faulty.open_orders_error = None
    assert _aborted(rig).outcome == "breaker_open"


def test_breaker_probe_after_cool_off_success_closes_failure_reopens(rig: Rig) -> None:
    deps, faulty, clock = rig
    faulty.open_orders_error = AuthFailed("HTTP 401")
    _aborted(rig)  # open for 5 minutes
    clock.at += timedelta(minutes=5)
    _aborted(rig)  # the probe (half-open) fails: open again
    assert deps.store.breaker().state is BreakerState.OPEN
    faulty.open_orders_error = None
    assert _aborted(rig).outcome == "breaker_open"  # still cooling off
    clock.at += timedelta(minutes=5)
    probe = cycle(deps, clock)  # the probe goes through
    assert probe.outcome == "ok" and deps.store.breaker() == Breaker()
    assert _changes(rig) == [("TRIP", "closed", "open"), ("COOLED", "open", "half_open"),
                             ("TRIP", "half_open", "open"), ("COOLED", "open", "half_open"),
                             ("SUCCESS", "half_open", "closed")]


def test_breaker_single_order_rejections_do_not_count(rig: Rig) -> None:
    deps, faulty, clock = rig
    for _ in range(6):
        faulty.submit_faults = ["timeout_after_accept"]  # ambiguous submits are settled by reconcile, not here
        cycle(deps, clock)
    assert deps.store.breaker().state is BreakerState.CLOSED and deps.store.breaker().failures == 0


def _open_breaker(store: Store) -> None:
    opened = datetime.now(UTC)
    after = Breaker(BreakerState.OPEN, ((opened, True),), opened, opened + timedelta(hours=1))
    store.save_breaker(Step(Breaker(), after), None, opened)


def test_breaker_open_shown_by_status_run_doctor_and_reconcile(isolated_env: Path) -> None:
    assert runner.invoke(app, ["run"]).exit_code == 0
    store = Store.open(isolated_env, "sim")
    _open_breaker(store)
    store.close()
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)["circuit_breaker"]
    assert status["state"] == "open" and status["failures"] == 1
    assert status["opened_at"] and status["next_probe_at"]
    table = " ".join(runner.invoke(app, ["status"]).stdout.split())
    assert "breaker open since" in table and "until the probe at" in table
    run = runner.invoke(app, ["run", "--json"])
    assert run.exit_code == 3 and json.loads(run.stdout)["outcome"] == "breaker_open"
    doctor = runner.invoke(app, ["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert doctor.exit_code == 4 and checks["breaker"]["ok"] is False and "open since" in checks["breaker"]["detail"]
    reconcile = runner.invoke(app, ["reconcile", "--json"])
    assert reconcile.exit_code in (0, 4)
    assert json.loads(reconcile.stdout)["circuit_breaker"]["state"] == "open"


def test_breaker_is_per_venue_live_breaker_does_not_stop_the_simulator(isolated_env: Path) -> None:
    store = Store.open(isolated_env, "btcturk")
    _open_breaker(store)
    store.close()
    assert runner.invoke(app, ["run"]).exit_code == 0  # the offline simulator (venue "sim")
    assert json.loads(runner.invoke(app, ["status", "--json"]).stdout)["circuit_breaker"]["state"] == "closed"
