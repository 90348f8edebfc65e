"""`btcbot doctor` against the BTCTurk-shaped simulator server on 127.0.0.1: keys, clock, and R-EX-4."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcbot.adapters.sim.server import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimServer
from btcbot.adapters.sqlite.store import Store
from btcbot.cli import app

runner = CliRunner()


@pytest.fixture
def server(sim_server: SimServer) -> SimServer:
    return sim_server


def _doctor(server: SimServer, state: Path, secret: str = DEFAULT_API_SECRET) -> tuple[int, dict[str, dict]]:  # type: ignore[type-arg]
    env = {"BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": server.url, "BTCTURK_API_KEY": DEFAULT_API_KEY,
           "BTCTURK_API_SECRET": secret, "BTCBOT_STATE_DIR": str(state)}
    result = runner.invoke(app, ["doctor", "--json"], env=env)
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    return result.exit_code, checks


def test_doctor_signed_balances_and_clock_pass_against_server(server: SimServer, tmp_path: Path) -> None:
    Store.open(tmp_path / "bot", "btcturk").close()
    code, checks = _doctor(server, tmp_path / "bot")
    assert code == 0, checks
    assert checks["keys"]["ok"] and "signed balances request ok" in checks["keys"]["detail"]
    assert checks["clock"]["ok"] and "skew" in checks["clock"]["detail"]


def test_doctor_without_state_still_checks_keys_and_clock_exits_2_creates_nothing(server: SimServer,
                                                                                  tmp_path: Path) -> None:
    code, checks = _doctor(server, tmp_path / "bot")
    assert code == 2, checks
    assert not checks["state"]["ok"] and "no state at" in checks["state"]["detail"]
    assert checks["keys"]["ok"] and checks["clock"]["ok"] and checks["config"]["ok"]
    assert not (tmp_path / "bot").exists()  # doctor never creates the state dir, journal, lock or logs


def test_doctor_wrong_secret_fails_keys_check_with_exit_4(server: SimServer, tmp_path: Path) -> None:
    Store.open(tmp_path / "bot", "btcturk").close()
    code, checks = _doctor(server, tmp_path / "bot", secret="d3Jvbmctc2VjcmV0")
    assert code == 4
    assert not checks["keys"]["ok"] and "signature refused" in checks["keys"]["detail"]
    assert "wrong-secret" not in json.dumps(checks) and "d3Jvbmctc2VjcmV0" not in json.dumps(checks)


def test_doctor_honours_a_persisted_429_block_and_sends_nothing_there(server: SimServer, tmp_path: Path) -> None:
    state = tmp_path / "bot"
    store = Store.open(state, "btcturk")
    store.save_block("GET /api/v1/users/balances", datetime.now(UTC) + timedelta(seconds=60))
    store.close()
    code, checks = _doctor(server, state)
    assert code == 4
    assert not checks["keys"]["ok"] and "blocked" in checks["keys"]["detail"]
    assert [e for e in server.requests() if e["endpoint"] == "GET /api/v1/users/balances"] == []
    assert checks["clock"]["ok"]  # other endpoints are not blocked
