"""Test isolation: every test runs in its own directory with no BTCBOT_/BTCTURK_ variables inherited, so
neither a developer's .env nor config/btcbot.toml nor real keys can leak in (and nothing reaches a network:
the default exchange is the built-in simulator)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


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
