"""Is the journal fit to use? A damaged database is refused before anything is written to it.

- Every open: the file header (magic, page size, page count vs file size: truncation).
- An open for writing of a file that is not exactly the one btcbot last closed cleanly (size, mtime, inode
  recorded in `<db>-clean`; a crash, a copy, a restore or an outside edit all change it): `PRAGMA
  quick_check` first. So the full scan runs after a crash or an outside change, not every cycle.
- Any SQLite error that means damaged, unreadable or unwritable state becomes a StateError naming the file
  (exit 2, one line, what to do); `btcbot doctor` runs the full `integrity_check`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from btcbot.domain.errors import StateError

__all__ = ["check_header", "damaged", "forget_clean", "is_clean", "is_marked", "mark_clean", "state_error"]

_MAGIC = b"SQLite format 3\x00"
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_UNWRITABLE = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN}
_DISK = {sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL}
_RESTORE = ("it was left untouched: move it aside and restore a backup, or point --state-dir elsewhere "
            "(`btcbot doctor` shows the integrity check)")


def damaged(path: Path | str, why: str) -> StateError:
    return StateError(f"database {path} is damaged ({why}); {_RESTORE}")


def state_error(path: Path | str, exc: sqlite3.Error) -> StateError | None:
    """The StateError for a SQLite error that is about the file, not the code (None: a bug or a conflict)."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary in _DAMAGED or (primary is None and ("malformed" in text or "not a database" in text)):
        return damaged(path, text)
    if primary in _UNWRITABLE:
        return StateError(f"database {path} cannot be opened or written ({text}); fix the permissions of the "
                          "state dir and its files, or point --state-dir elsewhere")
    if primary in _DISK:
        return StateError(f"database {path}: {text}; check free space and the disk, then run again")
    return None


def check_header(path: Path) -> None:
    """Refuse a file that is not a SQLite database or is shorter than its header says (truncated)."""
    size = path.stat().st_size
    if size == 0:
        if is_marked(path):
            raise damaged(path, "truncated to 0 bytes")
        return  # created by a run that died before writing anything: a new database
    with path.open("rb") as f:
        head = f.read(100)
    if len(head) < 100 or not head.startswith(_MAGIC):
        raise damaged(path, "not a SQLite database")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise damaged(path, f"page size {page_size} in the header")
    pages, counter, valid_for = int.from_bytes(head[28:32], "big"), head[24:28], head[92:96]
    if not _wal_pending(path) and (size % page_size or (counter == valid_for and size < pages * page_size)):
        raise damaged(path, f"truncated: {size} bytes, the header says {pages * page_size}")
    # (with WAL frames pending, a checkpoint may have been cut short: quick_check judges the pair)


def _wal_pending(path: Path) -> bool:
    """Frames in the WAL (an empty one is what a read-only reader such as `status` leaves behind)."""
    wal = Path(f"{path}-wal")
    return wal.exists() and wal.stat().st_size > 0


def _marker(path: Path) -> Path:
    return Path(f"{path}-clean")


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ino}"


def is_marked(path: Path) -> bool:
    return _marker(path).exists()


def is_clean(path: Path) -> bool:
    """True when the file is exactly as btcbot last closed it (and no WAL is pending)."""
    try:
        recorded = _marker(path).read_text(encoding="ascii").strip()
        return not _wal_pending(path) and recorded == _fingerprint(path)
    except OSError:
        return False


def mark_clean(path: Path) -> None:
    """Record the file as btcbot leaves it (only after a clean close: the WAL is gone)."""
    if _wal_pending(path):
        return
    marker, tmp = _marker(path), Path(f"{path}-clean.tmp")
    with contextlib.suppress(OSError):
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(_fingerprint(path) + "\n")
        os.replace(tmp, marker)


def forget_clean(path: Path) -> None:
    with contextlib.suppress(OSError):
        _marker(path).unlink()
