"""Test isolation: every test runs in its own directory with no BTCBOT_/BTCTURK_ variables inherited, so
neither a developer's .env nor config/btcbot.toml nor real keys can leak in (and nothing reaches a network:
the default exchange is the built-in simulator)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from btcbot.adapters.sim.server import SimServer, open_server_sim

# Property tests judge results, not speed: no per-example deadline and no "too slow" health check, so a
# busy CI machine cannot fail them (tests that set their own settings inherit these two).
settings.register_profile("btcbot", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("btcbot")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith(("BTCBOT_", "BTCTURK_")):
            monkeypatch.delenv(name, raising=False)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    state = tmp_path / "state"
    monkeypatch.setenv("BTCBOT_STATE_DIR", str(state))
    yield state


@pytest.fixture
def sim_server(tmp_path: Path) -> Iterator[SimServer]:
    """The BTCTurk-shaped simulator server on 127.0.0.1 (default keys), state under tmp_path/server."""
    sim = open_server_sim(tmp_path / "server", seed=3)
    with SimServer(sim) as srv:
        yield srv
    sim.close()
