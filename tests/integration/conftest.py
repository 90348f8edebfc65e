"""Fixtures of the integration tests (the fault-scripting rig itself is in faulty.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faulty import Rig, open_rig


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    the_rig, sim = open_rig(tmp_path / "state", monkeypatch)
    yield the_rig
    the_rig[0].store.close()
    sim.close()
