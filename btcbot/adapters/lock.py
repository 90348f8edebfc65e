"""Single-instance guard: an OS file lock that dies with the process (LESSONS 31, R-REL-4)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from btcbot.domain.errors import LockBusy

__all__ = ["LOCK_FILENAME", "instance_lock"]

LOCK_FILENAME = "btcbot.lock"


@contextmanager
def instance_lock(state_dir: Path) -> Iterator[Path]:
    """Hold the state dir's lock for the block; raise LockBusy at once if another process has it."""
    path = state_dir / LOCK_FILENAME
    lock = FileLock(str(path), timeout=0, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise LockBusy(f"another btcbot process holds {path}; this run did nothing") from None
    try:
        yield path
    finally:
        lock.release()
