"""Issue 4 identities end to end against the in-process simulator: positions equal the exchange's fills to the
last unit; an outside change of balances is caught by the balance check and switches to REDUCE_ONLY."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sqlite.db import Database
from btcbot.adapters.sqlite.migrations import SCHEMA_VERSION
from btcbot.bootstrap import SIM_DB_FILENAME, SystemClock
from btcbot.cli import app

runner = CliRunner()


def test_positions_equal_simulator_fills_to_the_last_unit(isolated_env: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "600")
    for _ in range(15):
        assert runner.invoke(app, ["run"]).exit_code == 0
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    sim = SimExchange.open(isolated_env / SIM_DB_FILENAME, SimConfig(auto_advance=False), SystemClock())
    try:
        venue_fills = sim.fills(["BTCTRY", "ETHTRY", "USDTTRY"], since=None)
    finally:
        sim.close()
    assert venue_fills, "the simulated market produced no fills"
    for symbol in ("BTCTRY", "ETHTRY", "USDTTRY"):
        mine = [f for f in venue_fills if f.symbol == symbol]
        net = sum((f.quantity if f.side.value == "buy" else -f.quantity for f in mine), Decimal(0))
        fees = sum((f.fee + f.tax for f in mine), Decimal(0))
        row = next((p for p in status["positions"] if p["symbol"] == symbol), {"quantity": "0", "fees_paid": "0"})
        assert Decimal(row["quantity"]) == net
        assert Decimal(row["fees_paid"]) == fees


def test_outside_balance_change_is_reported_and_switches_to_reduce_only(isolated_env: Path) -> None:
    assert runner.invoke(app, ["run"]).exit_code == 0  # baseline taken
    sim_db = Database(isolated_env / SIM_DB_FILENAME)  # a "deposit" the bot knows nothing about
    row = sim_db.query_one("SELECT * FROM balances WHERE asset = 'TRY'")
    assert row is not None
    with sim_db.atomic() as conn:
        conn.execute("UPDATE balances SET free = ? WHERE asset = 'TRY'", (str(Decimal(row["free"]) + 1000),))
    sim_db.close()
    first = json.loads(runner.invoke(app, ["run", "--json"]).stdout)
    assert first["trading_state"] == "NORMAL"  # one cycle of mismatch may be a late fill
    runner.invoke(app, ["run", "--json"])
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert status["mode"]["trading_state"] == "REDUCE_ONLY"
    cycle = json.loads(runner.invoke(app, ["run", "--json"]).stdout)
    assert all(d["code"] == "STATE_REDUCE_ONLY" for d in cycle["dropped"] if d["side"] == "buy")
    reconcile = json.loads(runner.invoke(app, ["reconcile", "--json"]).stdout)
    assert any(d["kind"] == "BALANCE" and d["symbol"] == "TRY" for d in reconcile["differences"])
    assert runner.invoke(app, ["reconcile", "--apply"]).exit_code == 0  # accept the deposit as the new baseline
    assert runner.invoke(app, ["resume"]).exit_code == 0


def test_newer_database_exits_2_without_traceback(isolated_env: Path) -> None:
    isolated_env.mkdir(parents=True)
    db = Database(isolated_env / "btcbot.sqlite")
    db.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "newer than this btcbot" in result.output and "Traceback" not in result.output
