"""The cycle end to end through the CLI (typer's CliRunner) against the built-in simulator."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcbot.adapters.lock import instance_lock
from btcbot.adapters.sqlite.store import Store
from btcbot.cli import app

runner = CliRunner()
STATUS_KEYS = {"mode", "last_cycle", "open_orders", "unresolved_orders", "positions", "balances", "pnl",
               "circuit_breaker", "counts"}


def _status(state: Path) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["status", "--json", "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_run_default_settings_completes_dry_run_cycle(isolated_env: Path) -> None:
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    assert "dry-run on sim" in result.stdout
    assert "BTCBOT_KILL_SWITCH is true" in result.stdout
    status = _status(isolated_env)
    assert status["last_cycle"]["outcome"] == "ok"
    assert {o["status"] for o in status["open_orders"]} == {"OPEN"}
    assert all(o["side"] == "buy" for o in status["open_orders"])


def test_run_state_files_are_private_to_the_owner(isolated_env: Path) -> None:
    assert runner.invoke(app, ["run"]).exit_code == 0
    assert stat.S_IMODE(isolated_env.stat().st_mode) == 0o700
    databases = sorted(p.name for p in isolated_env.glob("*.sqlite"))
    assert databases == ["btcbot.sqlite", "sim.sqlite"]
    for path in isolated_env.glob("*.sqlite*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_run_ten_times_orders_fill_and_positions_appear(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "300")
    for _ in range(10):
        result = runner.invoke(app, ["run", "--json"])
        assert result.exit_code == 0, result.output
        cycle = json.loads(result.stdout)
        assert cycle["outcome"] == "ok"
    status = _status(isolated_env)
    assert status["counts"]["fills"] > 0
    assert status["counts"]["cycles"] == 10
    assert any(o["side"] == "sell" for o in status["open_orders"]) or any(
        p["realized_pnl"] != "0" for p in status["positions"])
    assert status["unresolved_orders"] == []
    for position in status["positions"]:
        assert isinstance(position["quantity"], str) and not position["quantity"].startswith("-")
    # positions.fees_paid equals the sum of |fee| + |tax| of our fills to the last unit
    from decimal import Decimal

    fills = json.loads(runner.invoke(app, ["status", "--json", "--fills", "1000"]).stdout)["fills"]
    for position in status["positions"]:
        ours = [f for f in fills if f["symbol"] == position["symbol"]]
        assert Decimal(position["fees_paid"]) == sum((Decimal(f["fee"]) + Decimal(f["tax"]) for f in ours),
                                                      Decimal(0))
        net = sum((Decimal(f["quantity"]) * (1 if f["side"] == "buy" else -1) for f in ours), Decimal(0))
        assert Decimal(position["quantity"]) == net


def test_status_json_has_spec_keys_and_string_amounts(isolated_env: Path) -> None:
    assert runner.invoke(app, ["run"]).exit_code == 0
    status = _status(isolated_env)
    assert set(status) >= STATUS_KEYS
    assert set(status["mode"]) >= {"exchange", "dry_run", "kill_switch", "live_armed", "trading_state"}
    assert set(status["last_cycle"]) >= {"id", "stage", "started_at", "finished_at", "outcome", "exit_code"}
    assert set(status["pnl"]) >= {"realized_today", "realized_total", "fees_total", "equity", "peak_equity",
                                  "drawdown_pct"}
    assert set(status["counts"]) == {"orders", "fills", "events", "cycles"}
    for order in status["open_orders"]:
        assert isinstance(order["price"], str) and isinstance(order["quantity"], str)
    for balance in status["balances"]:
        assert all(isinstance(balance[k], str) for k in ("free", "locked", "total"))


def test_status_with_no_history_works_offline(isolated_env: Path) -> None:
    Store.open(isolated_env, "sim").close()  # a journal without cycles (no state at all is exit 2)
    status = _status(isolated_env)
    assert status["last_cycle"] is None
    assert status["counts"]["cycles"] == 0


def test_status_shows_current_rate_limit_blocks_only(isolated_env: Path) -> None:
    store = Store.open(isolated_env, "sim")
    now = datetime.now(UTC)
    store.save_block("GET /api/v1/users/balances", now + timedelta(seconds=50))
    store.save_block("GET /api/v2/orderbook", now - timedelta(seconds=1))  # over: not shown
    store.close()
    assert list(_status(isolated_env)["locks"]["rate_limit_blocks"]) == ["GET /api/v1/users/balances"]
    table = runner.invoke(app, ["status"])
    assert table.exit_code == 0
    assert "rate-limited GET /api/v1/users/balances until" in " ".join(table.stdout.split())
    assert "orderbook" not in table.stdout


@pytest.mark.parametrize("command", ["run", "stage7-run"])
def test_run_while_locked_exits_75_and_does_nothing(isolated_env: Path, command: str) -> None:
    isolated_env.mkdir(parents=True)
    with instance_lock(isolated_env):
        result = runner.invoke(app, [command])
    assert result.exit_code == 75
    assert "another btcbot process" in result.output
    assert not (isolated_env / "sim.sqlite").exists()
    assert not (isolated_env / "btcbot.sqlite").exists()  # no journal, so no cycle either


@pytest.mark.parametrize(("env", "value", "message"), [
    ("BTCBOT_SYMBOLS", "NOPE", "BTCBOT_SYMBOLS"),
    ("BTCBOT_ORDER_NOTIONAL_TRY", "0", "BTCBOT_ORDER_NOTIONAL_TRY must be greater than 0"),
    ("BTCBOT_DRY_RUN", "perhaps", "BTCBOT_DRY_RUN"),
])
def test_run_bad_config_exits_2_without_traceback(monkeypatch: pytest.MonkeyPatch, env: str, value: str,
                                                  message: str) -> None:
    monkeypatch.setenv(env, value)
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_run_unlisted_symbol_exits_2_naming_pair(isolated_env: Path) -> None:
    result = runner.invoke(app, ["run", "--symbols", "DOGETRY"])
    assert result.exit_code == 2
    assert "DOGETRY not listed by the exchange" in result.output
    last = _status(isolated_env)["last_cycle"]
    assert (last["outcome"], last["exit_code"]) == ("config_error", 2)


@pytest.mark.parametrize("command", [[], ["run"], ["status"]])
def test_help_works_for_every_command(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_halt_blocks_submits_and_resume_restores(isolated_env: Path) -> None:
    assert runner.invoke(app, ["halt", "--reason", "test"]).exit_code == 0
    result = runner.invoke(app, ["run", "--json"])
    assert result.exit_code == 0
    cycle = json.loads(result.stdout)
    assert cycle["trading_state"] == "HALTED"
    assert cycle["submitted"] == []
    assert {d["code"] for d in cycle["dropped"]} == {"STATE_HALTED"}
    assert runner.invoke(app, ["resume"]).exit_code == 0
    cycle = json.loads(runner.invoke(app, ["run", "--json"]).stdout)
    assert cycle["trading_state"] == "NORMAL" and cycle["submitted"]


def test_reconcile_after_cycles_is_clean_and_doctor_passes(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "300")
    for _ in range(3):
        assert runner.invoke(app, ["run"]).exit_code == 0
    result = runner.invoke(app, ["reconcile", "--json"])
    assert result.exit_code in (0, 4), result.output
    if result.exit_code == 4:  # fills that happened while reconcile advanced the simulated market
        assert runner.invoke(app, ["reconcile", "--apply"]).exit_code == 0
    assert runner.invoke(app, ["doctor"]).exit_code == 0
