"""File modes (issue 8, finding 8; R-SAFE-4): every directory btcbot creates is 0700 and every file 0600, over
every command that can create state, whatever the umask; rotated logs too."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcbot.adapters.sim.server import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimServer
from btcbot.cli import app
from btcbot.logsetup import configure_logging, detach_handlers

runner = CliRunner()


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what most shells and cron have: btcbot must not rely on a strict one
    yield
    os.umask(previous)


def _modes(root: Path) -> dict[str, str]:
    """Every path under (and including) `root` whose mode is not 0700 (dirs) / 0600 (files)."""
    wrong = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            wrong[str(path.relative_to(root.parent))] = oct(mode)
    return wrong


@pytest.mark.parametrize("args", [["run"], ["run", "--json"], ["reconcile", "--apply"], ["halt"], ["resume"]])
def test_command_on_new_state_dir_creates_only_private_files(isolated_env: Path, args: list[str]) -> None:
    state = isolated_env / "nested" / "state"  # parents made on the way are private too
    result = runner.invoke(app, [*args, "--state-dir", str(state)])
    assert result.exit_code == 0, result.output
    assert (state / "btcbot.sqlite").exists() and (state / "logs" / "btcbot.log").exists()
    assert _modes(isolated_env) == {}


@pytest.mark.parametrize("dry_run", ["true", "false"])
def test_btcturk_runs_live_and_paper_create_only_private_files(isolated_env: Path, sim_server: SimServer,
                                                               dry_run: str) -> None:
    server = sim_server
    env = {"BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": server.url, "BTCTURK_API_KEY": DEFAULT_API_KEY,
           "BTCTURK_API_SECRET": DEFAULT_API_SECRET, "BTCBOT_DRY_RUN": dry_run, "BTCBOT_KILL_SWITCH": "false",
           "BTCBOT_LIVE_TRADING": "true", "BTCBOT_LIVE_TRADING_ACK": "I_UNDERSTAND"}
    for _ in range(2):
        result = runner.invoke(app, ["run"], env=env)
        assert result.exit_code == 0, result.output
    assert (isolated_env / ("paper.sqlite" if dry_run == "true" else "btcbot.sqlite")).exists()
    assert _modes(isolated_env) == {}


def test_sim_serve_creates_only_private_files(isolated_env: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "btcbot", "sim", "serve", "--port", "0"], env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # umask 022 inherited
    try:
        assert proc.stdout is not None
        assert "listening on" in proc.stdout.readline()
        assert (isolated_env / "sim-server.sqlite").exists()
        assert _modes(isolated_env) == {}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert _modes(isolated_env) == {}


def test_log_files_are_private_after_rotation(tmp_path: Path) -> None:
    path = configure_logging(tmp_path / "state")
    try:
        assert path is not None
        logger = logging.getLogger("btcbot.test")
        logger.warning("before rotation")
        handler = next(h for h in logging.getLogger("btcbot").handlers if isinstance(h, logging.FileHandler))
        handler.doRollover()  # type: ignore[attr-defined]
        logger.warning("after rotation")
    finally:
        detach_handlers()
    assert Path(f"{path}.1").exists() and path.exists()
    assert _modes(tmp_path / "state") == {}
