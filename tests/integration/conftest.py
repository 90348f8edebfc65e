"""Fixtures of the integration tests (the fault-scripting rig itself is in faulty.py)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from faulty import Rig, open_rig

from btcbot.adapters.sim.server import SimServer


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    the_rig, sim = open_rig(tmp_path / "state", monkeypatch)
    yield the_rig
    the_rig[0].store.close()
    sim.close()


@pytest.fixture
def flow_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """Other traders hit the touch every tick: a 5000 TRY bid fills partly in one tick, fully in two."""
    the_rig, sim = open_rig(tmp_path / "state", monkeypatch, flow=Decimal(1), BTCBOT_ORDER_NOTIONAL_TRY="5000",
                            BTCBOT_MAX_ORDER_NOTIONAL_TRY="10000", BTCBOT_MAX_CYCLE_NOTIONAL_TRY="10000",
                            BTCBOT_MAX_POSITION_NOTIONAL_TRY="20000")
    yield the_rig
    the_rig[0].store.close()
    sim.close()


@pytest.fixture
def outage(isolated_env: Path, sim_server: SimServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A paper (btcturk) state dir whose last cycle was aborted (exit 3): an ok cycle, then the exchange went away.
    BTCBOT_EXCHANGE and BTCBOT_SYMBOLS stay set for the test's own commands."""
    from typer.testing import CliRunner

    from btcbot.cli import app

    monkeypatch.setenv("BTCBOT_EXCHANGE", "btcturk")
    monkeypatch.setenv("BTCBOT_SYMBOLS", "BTCTRY")
    monkeypatch.setenv("BTCTURK_BASE_URL", sim_server.url)
    runner = CliRunner()
    assert runner.invoke(app, ["run"]).exit_code == 0
    sim_server.stop()
    assert runner.invoke(app, ["run"]).exit_code == 3
    return isolated_env
