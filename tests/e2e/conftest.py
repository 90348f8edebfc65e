"""Fixtures of the end-to-end tests (the rig itself is in rig.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from btcbot.adapters.sim.server import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimServer, open_server_sim

pytest.register_assert_rewrite("rig")  # the rig's invariant checks are plain asserts: explain their failures
from rig import SYMBOLS, Rig, WireLog  # noqa: E402

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every end-to-end test is `slow`: `pytest -m "not slow"` is the fast loop; CI runs everything."""
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.slow)


def _rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tick_seconds: int) -> Iterator[Rig]:
    sim = open_server_sim(tmp_path / "server", seed=5, tick_seconds=tick_seconds, cancel_delay=0.3)
    server = SimServer(sim).start()
    state = tmp_path / "bot"
    env = {
        "BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": server.url, "BTCTURK_API_KEY": DEFAULT_API_KEY,
        "BTCTURK_API_SECRET": DEFAULT_API_SECRET, "BTCBOT_DRY_RUN": "false", "BTCBOT_KILL_SWITCH": "false",
        "BTCBOT_LIVE_TRADING": "true", "BTCBOT_LIVE_TRADING_ACK": "I_UNDERSTAND", "BTCBOT_STATE_DIR": str(state),
        "BTCBOT_SYMBOLS": ",".join(SYMBOLS), "BTCBOT_HTTP_TIMEOUT_SECONDS": "2",
        "BTCBOT_STALE_ORDER_SECONDS": "6", "BTCBOT_UNKNOWN_ORDER_MAX_AGE_SECONDS": "8",
        "BTCBOT_DEDUPE_BUCKET_SECONDS": "60",
    }
    wire = WireLog()
    wire.install(monkeypatch)  # the CLI runs in-process: its HTTP client's sends are observed directly
    yield Rig(server, state, env, wire)
    server.stop()
    sim.close()


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """The server's market moves one tick per second of wall time."""
    yield from _rig(tmp_path, monkeypatch, tick_seconds=1)


@pytest.fixture
def still_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """The server's market moves only when a test advances it (`rig.server.sim.advance`): scripted scenarios."""
    yield from _rig(tmp_path, monkeypatch, tick_seconds=3600)
