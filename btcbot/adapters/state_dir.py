"""The state directory: made private by commands that write, only looked at by read-only ones (SPEC §0.1).

Every problem is a StateError (exit 2) whose one line names the path and says what to do.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from btcbot.domain.errors import StateError

__all__ = ["ensure_private_dir", "require_existing_state"]

_ELSEWHERE = "point --state-dir (BTCBOT_STATE_DIR) at a directory btcbot can write"


def ensure_private_dir(path: Path) -> Path:
    """Create the state directory 0700 (R-SAFE-4), or fail naming it: it is a file, or not writable."""
    if path.exists() and not path.is_dir():
        raise StateError(f"state directory {path} is not a directory; {_ELSEWHERE}")
    try:
        missing = [p for p in (path, *path.parents) if not p.exists()]
        for new in reversed(missing):  # parents too (mkdir(parents=True) would make them 0755)
            new.mkdir(mode=0o700, exist_ok=True)
            os.chmod(new, 0o700)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:  # an existing dir loses group/other rights; never gains one the owner took away
            os.chmod(path, mode & 0o700)
    except OSError as exc:
        raise StateError(f"state directory {path}: {exc.strerror or exc}; {_ELSEWHERE}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StateError(f"state directory {path} is not writable; fix its permissions or {_ELSEWHERE}")
    return path


def require_existing_state(path: Path, journal: str) -> Path:
    """For read-only commands: the state dir and its journal must exist; nothing is created."""
    if not path.is_dir() or not (path / journal).is_file():
        raise StateError(f"no state at {path} (no {journal}); check --state-dir (BTCBOT_STATE_DIR), "
                         "or run `btcbot run` to create it")
    return path
