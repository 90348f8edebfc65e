"""Single-instance guard: an OS file lock that dies with the process (LESSONS 31, R-REL-4)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from btcbot.domain.errors import LockBusy, StateError

__all__ = ["LOCK_FILENAME", "instance_lock", "lock_held"]

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
    except OSError as exc:
        raise StateError(f"lock file {path}: {exc.strerror or exc}; fix the state dir's permissions or "
                         "point --state-dir elsewhere") from None
    try:
        yield path
    finally:
        lock.release()


def lock_held(state_dir: Path) -> bool:
    """Whether a btcbot process holds the state dir's lock now; never creates the lock file (read-only
    commands). An unreadable lock file counts as not held."""
    path = state_dir / LOCK_FILENAME
    if not path.is_file():
        return False
    lock = FileLock(str(path), timeout=0, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        return True
    except OSError:
        return False
    lock.release()
    return False
