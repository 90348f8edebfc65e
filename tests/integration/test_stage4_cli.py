"""`btcbot stage4-run` against the built-in simulator: it places, replaces and fills within 15 cycles, shares one
journal with `run`, and `status` / `resume` show and guard the trading state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from factories import PortClock
from typer.testing import CliRunner

from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import open_deps, stage4_config
from btcbot.cli import app
from btcbot.config import load_settings
from btcbot.domain.order_fsm import LIVE
from btcbot.domain.replace_fsm import ReplaceState
from btcbot.services.cycle import run_cycle

runner = CliRunner()


def _cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result


def _live_per_side(state: Path) -> dict[tuple[str, str], int]:
    store = Store.open(state, "sim")
    try:
        counts: dict[tuple[str, str], int] = {}
        for order in store.orders(LIVE, include_external=False):
            counts[(order.symbol, order.side.value)] = counts.get((order.symbol, order.side.value), 0) + 1
        return counts
    finally:
        store.close()


@pytest.mark.parametrize("seed", [42, 1])
def test_stage4_fifteen_cron_cycles_place_replace_and_fill(isolated_env: Path, seed: int) -> None:
    settings = load_settings(state_dir=isolated_env, sim_seed=seed)
    clock = PortClock(datetime(2026, 11, 21, 9, 0, tzinfo=UTC))  # wall time as cron sees it
    submitted = fills = 0
    for _ in range(15):
        clock.at += timedelta(minutes=5)  # the simulated market moves 5 ticks between runs
        with open_deps(settings, clock) as deps:
            report = run_cycle(deps, stage4_config(settings))
        assert report.exit_code == 0, report.error
        submitted += len(report.execution.submitted)  # type: ignore[union-attr]
        fills += len(report.fills.new)  # type: ignore[union-attr]
        assert all(n == 1 for n in _live_per_side(isolated_env).values())
    store = Store.open(isolated_env, "sim")
    replaced = [c for c in store.chains(limit=100) if c.state is ReplaceState.REPLACED]
    store.close()
    assert submitted > len(settings.symbols) and fills > 0
    assert replaced, "no order was replaced in 15 cycles"
    assert all(c.new_client_order_id and c.new_client_order_id.startswith("bb4") for c in replaced)


def test_stage4_run_json_reports_stage_account_and_chains(isolated_env: Path) -> None:
    cycle = _cli("stage4-run", "--json")
    assert (cycle["stage"], cycle["mode"], cycle["outcome"]) == ("4", "dry-run", "ok")
    assert cycle["account"]["sell_only"] is None and Decimal(cycle["account"]["equity_try"]) > 0
    assert {h["asset"] for h in cycle["account"]["holdings"]} >= {"TRY"}
    assert cycle["replace_chains"] == []
    assert all(cid.startswith("bb4b-") for cid in cycle["submitted"]) and cycle["submitted"]


def test_run_and_stage4_run_alternate_on_one_state_dir(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "300")
    stages = []
    for n in range(10):
        cycle = _cli("stage4-run" if n % 2 else "run", "--json")
        stages.append(cycle["stage"])
        assert cycle["outcome"] == "ok"
        assert all(count == 1 for count in _live_per_side(isolated_env).values())
    status = _cli("status", "--json")
    assert stages == ["3", "4"] * 5
    assert status["unresolved_orders"] == [] and status["counts"]["cycles"] == 10
    assert {o["client_order_id"][:3] for o in status["open_orders"]} <= {"bb3", "bb4"}


def test_status_shows_breach_state_reason_since_and_resume_needs_force(isolated_env: Path) -> None:
    _cli("stage4-run", "--json")
    store = Store.open(isolated_env, "sim")
    equity = Decimal(store.get_kv("equity_try") or "0")
    store.set_kv("peak_equity_try", str(equity * 2), datetime.now(UTC))  # 50 % below the peak now
    store.close()
    cycle = _cli("stage4-run", "--json")
    assert cycle["trading_state"] == "REDUCE_ONLY"
    assert {d["code"] for d in cycle["dropped"] if d["side"] == "buy"} <= {"STATE_REDUCE_ONLY"}
    status = _cli("status", "--json")
    assert status["mode"]["trading_state"] == "REDUCE_ONLY"
    assert status["mode"]["trading_state_reason"].startswith("RISK_MAX_DRAWDOWN: drawdown_pct=50")
    assert status["mode"]["trading_state_since"] is not None
    assert [b["code"] for b in status["risk"]["breaches"]] == ["RISK_MAX_DRAWDOWN"]
    assert "risk breach" in _cli("status").stdout

    refused = runner.invoke(app, ["resume"])
    assert refused.exit_code == 2
    assert "resume refused: RISK_MAX_DRAWDOWN" in refused.output and "--force" in refused.output
    assert _cli("status", "--json")["mode"]["trading_state"] == "REDUCE_ONLY"

    forced = _cli("resume", "--force", "--reason", "checked the books")
    assert "set to NORMAL (forced past: RISK_MAX_DRAWDOWN" in forced.stdout
    status = _cli("status", "--json")
    assert status["mode"]["trading_state"] == "NORMAL" and status["risk"]["breaches"] == []
    assert status["mode"]["trading_state_reason"] == "RESUME_FORCED: checked the books"
    assert _cli("stage4-run", "--json")["trading_state"] == "NORMAL"  # re-baselined: no immediate re-trip
