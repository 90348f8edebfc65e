"""A run that fails before its cycle starts still leaves its trace (issue 8, finding 9): every run that gets past
the lock records a cycle row with its outcome and exit code, so `status` never shows the previous cycle as the
last one, "ok"."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from btcbot.adapters.sim.server import SimServer
from btcbot.cli import app

runner = CliRunner()


def _last_cycle(env: dict[str, str] | None = None) -> dict[str, Any]:
    result = runner.invoke(app, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["last_cycle"]  # type: ignore[no-any-return]


@pytest.fixture
def previous_ok(isolated_env: Path) -> int:
    assert runner.invoke(app, ["run"]).exit_code == 0
    last = _last_cycle()
    assert last["outcome"] == "ok"
    return int(last["id"])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_exchange_outage_while_bootstrapping_records_aborted_exit_3(isolated_env: Path, sim_server: SimServer) -> None:
    # one state dir, one exchange: a paper (btcturk) journal, first against a reachable server
    assert runner.invoke(app, ["run"], env={"BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": sim_server.url,
                                            "BTCBOT_SYMBOLS": "BTCTRY"}).exit_code == 0
    previous_ok = _last_cycle({"BTCBOT_EXCHANGE": "btcturk"})["id"]
    env = {"BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": f"http://127.0.0.1:{_closed_port()}"}
    result = runner.invoke(app, ["run"], env=env)  # paper venue: loads the rules from the exchange first
    assert result.exit_code == 3, result.output
    last = _last_cycle(env)
    assert last["id"] > previous_ok
    assert (last["outcome"], last["exit_code"]) == ("aborted", 3)
    assert last["finished_at"] is not None


def test_broken_simulator_state_while_bootstrapping_records_config_error_exit_2(previous_ok: int,
                                                                                 isolated_env: Path) -> None:
    (isolated_env / "sim.sqlite").write_bytes(b"not a database at all" * 100)
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2, result.output
    assert "sim.sqlite" in result.stderr
    last = _last_cycle()
    assert last["id"] > previous_ok
    assert (last["outcome"], last["exit_code"]) == ("config_error", 2)


def test_bug_while_bootstrapping_records_failed_exit_1(previous_ok: int, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the composition root")

    monkeypatch.setattr("btcbot.bootstrap.build_exchange", broken)
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 1
    last = _last_cycle()
    assert last["id"] > previous_ok
    assert (last["outcome"], last["exit_code"]) == ("failed", 1)
