from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from btcbot.adapters.lock import instance_lock
from btcbot.domain.errors import LockBusy


def test_instance_lock_second_holder_fails_at_once(tmp_path: Path) -> None:
    with instance_lock(tmp_path), pytest.raises(LockBusy, match="another btcbot process"), instance_lock(tmp_path):
        pass


def test_instance_lock_released_after_block(tmp_path: Path) -> None:
    with instance_lock(tmp_path):
        pass
    with instance_lock(tmp_path):
        pass


def test_instance_lock_dies_with_killed_process(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from btcbot.adapters.lock import instance_lock\n"
        f"with instance_lock(Path({str(tmp_path)!r})):\n    print('held', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy), instance_lock(tmp_path):
            pass
        proc.kill()
        proc.wait(timeout=10)
        with instance_lock(tmp_path):  # an OS lock: gone with the process, no stale TTL (LESSONS 31)
            pass
    finally:
        proc.kill()
