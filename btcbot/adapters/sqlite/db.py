"""Connection setup (WAL, synchronous=FULL, busy_timeout, foreign keys) and the one transaction helper.

`synchronous=FULL`: in WAL mode a COMMIT fsyncs the WAL, so a committed write-ahead row (SUBMITTING) is on disk
before the order is POSTed, even across a power loss (NORMAL may lose the last commits). Bookkeeping that is
always followed by such a commit before anything is sent (a cycle's start, rate-limit stamps, the balance
snapshot and valuation, the cycle's decisions) commits with `atomic(durable=False)`: it survives a killed process
like every commit, and the next durable commit (a write-ahead row, a cancel request, the cycle's record at its
end) fsyncs it with everything before it. A cycle that sends nothing fsyncs once. The cost is measured by
scripts/bench_sync.py (README, Benchmarks).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from btcbot import testhooks
from btcbot.adapters.sqlite import health
from btcbot.adapters.state_dir import ensure_private_dir
from btcbot.domain.errors import StateError

__all__ = ["Database", "ensure_private_dir"]


def _read_only_uri(path: Path) -> str:
    """`mode=ro`; `immutable=1` when nobody can be writing it (an unwritable dir and no WAL): SQLite could not
    create the shared-memory file a WAL reader needs there."""
    uri = path.absolute().as_uri()  # a relative --state-dir is fine too
    if not os.access(path.parent, os.W_OK) and not Path(f"{path}-wal").exists():
        return f"{uri}?immutable=1"
    return f"{uri}?mode=ro"


class Database:
    """One SQLite connection with `atomic()` owning BEGIN IMMEDIATE/COMMIT/ROLLBACK (SAVEPOINT when nested).

    Autocommit mode (`isolation_level=None`) so that transactions are explicit. Thread-safe through a
    re-entrant lock: the cycle's concurrent reads never write, and every write goes through `atomic()`.
    `read_only=True` opens an existing file with `mode=ro`: nothing is created, migrated or written.
    A damaged file is refused before anything is written to it (see `health`).
    """

    def __init__(self, path: Path | str, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._depth = 0
        self._scratch = False
        self._damaged = False
        self._relaxed = False
        self._file = None if self.path == ":memory:" else Path(self.path)
        try:
            self.conn = self._connect()
        except sqlite3.Error as exc:
            raise self._translate(exc) from None
        except OSError as exc:
            raise StateError(f"database {self.path}: {exc.strerror or exc}; fix its permissions or point "
                             "--state-dir elsewhere") from None

    def _connect(self) -> sqlite3.Connection:
        """Check, open and configure the connection; a damaged file is refused before anything is written."""
        file = self._file
        created = file is not None and not file.exists()
        if file is not None and not created:
            health.check_header(file)
        target = _read_only_uri(file) if self.read_only and file is not None else self.path
        conn = sqlite3.connect(target, uri=self.read_only, isolation_level=None, check_same_thread=False, timeout=10)
        try:
            if created and file is not None:
                file.chmod(0o600)  # R-SAFE-4, whatever the umask
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA foreign_keys = ON")
            if file is not None and not self.read_only:
                self._verify_before_writing(conn, file)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _verify_before_writing(self, conn: sqlite3.Connection, file: Path) -> None:
        """quick_check a file btcbot did not leave exactly so (crash, copy, restore, outside edit)."""
        if file.stat().st_size == 0 or health.is_clean(file):
            return
        row = conn.execute("PRAGMA quick_check(1)").fetchone()
        if row is None or row[0] != "ok":
            raise health.damaged(self.path, f"quick_check: {row[0] if row else 'no answer'}")

    def _translate(self, exc: sqlite3.Error) -> BaseException:
        """A StateError naming this file for damaged/unwritable state; otherwise the error itself."""
        error = health.state_error(self.path, exc)
        if error is None:
            return exc
        self._damaged = True
        if self._file is not None and not self.read_only:
            health.forget_clean(self._file)  # the next open checks the whole file again
        return error

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
    def atomic(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """Run the block in one transaction; nested calls become savepoints (and share the outer transaction's
        durability). `durable=False` commits without waiting for the disk (WAL, synchronous=NORMAL): the
        transaction survives a killed process, only a power loss before the next durable commit could undo it.
        Use it only for bookkeeping that precedes a durable commit before anything is sent to an exchange (the
        cycle ends with one); a write-ahead row refuses it."""
        if self._scratch:
            with self._lock:
                yield self.conn
            return
        with self._lock:
            top = self._depth == 0
            relax = top and not durable and self._file is not None and not self.read_only
            if top and testhooks.ARMED:
                testhooks.crash_point(testhooks.tx_name("before"))
            level = self._synchronous("NORMAL") if relax else None  # before BEGIN: read when it starts
            try:
                yield from self._transaction(top, relax)
            finally:
                if level is not None:
                    self._relaxed = False
                    self._synchronous(level)
            if top and testhooks.ARMED:
                testhooks.crash_point(testhooks.tx_name("after"))

    def _transaction(self, top: bool, relax: bool) -> Iterator[sqlite3.Connection]:
        try:
            self.conn.execute("BEGIN IMMEDIATE" if top else f"SAVEPOINT sp{self._depth}")
        except sqlite3.Error as exc:
            raise self._translate(exc) from None
        self._depth += 1
        self._relaxed = self._relaxed or relax
        try:
            yield self.conn
        except BaseException as exc:
            self._depth -= 1
            self._rollback()
            if isinstance(exc, sqlite3.Error):
                raise self._translate(exc) from None
            raise
        else:
            self._depth -= 1
            try:
                self.conn.execute("COMMIT" if self._depth == 0 else f"RELEASE sp{self._depth}")
            except sqlite3.Error as exc:
                self._rollback()
                raise self._translate(exc) from None

    @property
    def relaxed(self) -> bool:
        """Inside a transaction that will commit without waiting for the disk (`atomic(durable=False)`)."""
        return self._relaxed

    def _synchronous(self, level: str) -> str:
        """Set the connection's synchronous level; return the one it had (FULL unless a caller changed it)."""
        try:
            before = str(self.conn.execute("PRAGMA synchronous").fetchone()[0])
            self.conn.execute(f"PRAGMA synchronous = {level}")
        except sqlite3.Error as exc:
            raise self._translate(exc) from None
        return before

    @contextmanager
    def foreign_keys_off(self) -> Iterator[None]:
        """Run the block (whole transactions) without foreign-key enforcement, for a delete whose caller has
        proved that nothing refers to the rows (SQLite would otherwise search every child table, unindexed,
        for each deleted row). Only outside a transaction: the pragma is a no-op inside one."""
        with self._lock:
            if self._depth or self._scratch:
                raise StateError("foreign keys can only be switched off outside a transaction")
            self.conn.execute("PRAGMA foreign_keys = OFF")
            try:
                yield
            finally:
                self.conn.execute("PRAGMA foreign_keys = ON")

    def _rollback(self) -> None:
        """Undo the open transaction (or savepoint); the error being handled is what the caller sees."""
        if not self.conn.in_transaction:  # SQLite already rolled back (e.g. after SQLITE_FULL or CORRUPT)
            return
        try:
            if self._depth == 0:
                self.conn.execute("ROLLBACK")
            else:
                self.conn.execute(f"ROLLBACK TO sp{self._depth}")
                self.conn.execute(f"RELEASE sp{self._depth}")
        except sqlite3.Error:
            self._damaged = True

    def query(self, sql: str, params: tuple[object, ...] | dict[str, object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._translate(exc) from None

    def query_one(self, sql: str, params: tuple[object, ...] | dict[str, object] = ()) -> sqlite3.Row | None:
        with self._lock:
            try:
                row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
            except sqlite3.Error as exc:
                raise self._translate(exc) from None
            return row

    def close(self) -> None:
        with self._lock:
            self.conn.close()
            if self._file is not None and not self.read_only and not self._damaged and self._file.exists():
                health.mark_clean(self._file)
