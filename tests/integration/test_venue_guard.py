"""One state dir is one exchange (issue 9, item 4): the journal records the exchange it was first used with; a
command with another BTCBOT_EXCHANGE exits 2 naming both and leaves the journal alone. Paper and live trading on
the same exchange share a state dir."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcbot.adapters.sim.server import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimServer
from btcbot.cli import app
from btcbot.services.venue import EXCHANGE_KEY

runner = CliRunner()
BTCTURK = {"BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": "http://127.0.0.1:9", "BTCBOT_SYMBOLS": "BTCTRY"}


def _cycles(state: Path) -> int:
    with sqlite3.connect(state / "btcbot.sqlite") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM cycles").fetchone()[0])


def _recorded(state: Path) -> str | None:
    with sqlite3.connect(state / "btcbot.sqlite") as conn:
        row = conn.execute("SELECT value FROM kv WHERE key = ?", (EXCHANGE_KEY,)).fetchone()
    return str(row[0]) if row else None


@pytest.fixture
def sim_state(isolated_env: Path) -> Path:
    assert runner.invoke(app, ["run"]).exit_code == 0
    assert _recorded(isolated_env) == "sim"
    return isolated_env


@pytest.mark.parametrize("command", [["run"], ["stage4-run"], ["stage7-run"], ["reconcile"], ["status"],
                                     ["halt"], ["resume"], ["compact", "--apply"]], ids=" ".join)
def test_other_exchange_on_a_sim_state_dir_exits_2_naming_both(command: list[str], sim_state: Path) -> None:
    before = (sim_state / "btcbot.sqlite").read_bytes()
    result = runner.invoke(app, command, env=BTCTURK)
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "BTCBOT_EXCHANGE=sim" in line and "BTCBOT_EXCHANGE=btcturk" in line and "--state-dir" in line
    assert (sim_state / "btcbot.sqlite").read_bytes() == before  # nothing written to the other exchange's journal


def test_other_exchange_with_json_prints_the_error_object(sim_state: Path) -> None:
    result = runner.invoke(app, ["run", "--json"], env=BTCTURK)
    data = json.loads(result.stdout)
    assert data["exit_code"] == 2 and "belongs to BTCBOT_EXCHANGE=sim" in data["error"]
    assert _cycles(sim_state) == 1


def test_doctor_reports_the_other_exchange_as_exit_2(sim_state: Path) -> None:
    result = runner.invoke(app, ["doctor", "--json"], env={**BTCTURK, "BTCBOT_HTTP_TIMEOUT_SECONDS": "1"})
    data = json.loads(result.stdout)
    assert result.exit_code == 2 and data["exit_code"] == 2
    [check] = [c for c in data["checks"] if c["name"] == "state dir"]
    assert not check["ok"] and "belongs to BTCBOT_EXCHANGE=sim" in check["detail"]


def test_same_exchange_keeps_working(sim_state: Path) -> None:
    assert runner.invoke(app, ["run"]).exit_code == 0
    assert runner.invoke(app, ["status"]).exit_code == 0
    assert _cycles(sim_state) == 2


def test_journal_without_a_record_adopts_the_exchange_of_the_next_writer(sim_state: Path,
                                                                          sim_server: SimServer) -> None:
    with sqlite3.connect(sim_state / "btcbot.sqlite") as conn:  # a journal from before the record
        conn.execute("DELETE FROM kv WHERE key = ?", (EXCHANGE_KEY,))
    paper = {**BTCTURK, "BTCTURK_BASE_URL": sim_server.url}
    assert runner.invoke(app, ["status"], env=paper).exit_code == 0  # read-only: records nothing
    assert _recorded(sim_state) is None
    assert runner.invoke(app, ["run"], env=paper).exit_code == 0
    assert _recorded(sim_state) == "btcturk"
    assert runner.invoke(app, ["run"]).exit_code == 2  # and now the simulator is the other exchange


def test_paper_then_live_on_the_same_exchange_share_the_state_dir(isolated_env: Path, sim_server: SimServer) -> None:
    paper = {**BTCTURK, "BTCTURK_BASE_URL": sim_server.url}
    live = {**paper, "BTCTURK_API_KEY": DEFAULT_API_KEY, "BTCTURK_API_SECRET": DEFAULT_API_SECRET,
            "BTCBOT_DRY_RUN": "false", "BTCBOT_KILL_SWITCH": "false", "BTCBOT_LIVE_TRADING": "true",
            "BTCBOT_LIVE_TRADING_ACK": "I_UNDERSTAND"}
    assert runner.invoke(app, ["run", "--json"], env=paper).exit_code == 0
    result = runner.invoke(app, ["run", "--json"], env=live)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["venue"] == "btcturk"
    assert _recorded(isolated_env) == "btcturk"
