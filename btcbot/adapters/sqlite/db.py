"""Connection setup (WAL, busy_timeout, foreign keys) and the one transaction helper."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from btcbot.domain.errors import StateError

__all__ = ["Database", "ensure_private_dir"]


def ensure_private_dir(path: Path) -> Path:
    """Create the state directory 0700 (R-SAFE-4) or fail with a clear error."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
    except OSError as exc:
        raise StateError(f"state directory {path}: {exc.strerror or exc}") from None
    return path


class Database:
    """One SQLite connection with `atomic()` owning BEGIN IMMEDIATE/COMMIT/ROLLBACK (SAVEPOINT when nested).

    Autocommit mode (`isolation_level=None`) so that transactions are explicit. Thread-safe through a
    re-entrant lock: the cycle's concurrent reads never write, and every write goes through `atomic()`.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._scratch = False
        memory = self.path == ":memory:"
        if not memory:
            db_path = Path(self.path)
            created = not db_path.exists()
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        except sqlite3.Error as exc:
            raise StateError(f"cannot open database {self.path}: {exc}") from None
        if not memory and created:
            os.chmod(db_path, 0o600)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.conn.execute("PRAGMA foreign_keys = ON")
        if not memory:
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")

    def make_scratch(self) -> None:
        """Make this a scratch database (a backtest's private in-memory journal): from now on everything runs
        in one transaction that is never committed, and `atomic()` only groups (no BEGIN, COMMIT or SAVEPOINT
        per block). A block that fails is not rolled back, so after any error the database must be discarded."""
        if self.path != ":memory:":
            raise StateError("only an in-memory database can be a scratch database")
        with self._lock:
            self.conn.execute("BEGIN")
            self._scratch = True

    @contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one transaction; nested calls become savepoints."""
        if self._scratch:
            with self._lock:
                yield self.conn
            return
        with self._lock:
            if self._depth == 0:
                self.conn.execute("BEGIN IMMEDIATE")
            else:
                self.conn.execute(f"SAVEPOINT sp{self._depth}")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self.conn.execute("ROLLBACK")
                else:
                    self.conn.execute(f"ROLLBACK TO sp{self._depth}")
                    self.conn.execute(f"RELEASE sp{self._depth}")
                raise
            else:
                self._depth -= 1
                if self._depth == 0:
                    self.conn.execute("COMMIT")
                else:
                    self.conn.execute(f"RELEASE sp{self._depth}")

    def query(self, sql: str, params: tuple[object, ...] | dict[str, object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple[object, ...] | dict[str, object] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
            return row

    def close(self) -> None:
        with self._lock:
            self.conn.close()
