"""The journal's health checks: a damaged file is refused before anything is written, and the full scan
(`quick_check`) runs only when the file is not exactly as btcbot last closed it."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from btcbot.adapters.sqlite import health
from btcbot.adapters.sqlite.db import Database
from btcbot.adapters.sqlite.store import DB_FILENAME, Store
from btcbot.domain.errors import StateError


def _journal(tmp_path: Path) -> Path:
    Store.open(tmp_path, "sim").close()
    return tmp_path / DB_FILENAME


def _quick_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = Database._verify_before_writing

    def spy(self: Database, conn: sqlite3.Connection, file: Path) -> None:
        if not health.is_clean(file):
            seen.append(str(file))
        original(self, conn, file)

    monkeypatch.setattr(Database, "_verify_before_writing", spy)
    return seen


def test_clean_close_lets_the_next_open_skip_the_full_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _journal(tmp_path)
    assert health.is_clean(db)
    scans = _quick_checks(monkeypatch)
    Store.open(tmp_path, "sim").close()
    assert scans == []


def test_read_only_reader_between_runs_keeps_the_journal_clean(tmp_path: Path) -> None:
    db = _journal(tmp_path)
    reader = Store.open_existing(tmp_path, "sim")
    reader.close()  # leaves an empty -wal and -shm behind (a read-only connection cannot remove them)
    assert health.is_clean(db)


def test_outside_change_makes_the_next_writer_scan_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _journal(tmp_path)
    time.sleep(0.05)  # file times tick coarsely (jiffies): an edit within the same tick would look unchanged
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO kv (key, value, updated_at) VALUES ('outside', 'x', 'now')")
    conn.commit()
    conn.close()
    scans = _quick_checks(monkeypatch)
    Store.open(tmp_path, "sim").close()
    assert scans == [str(db)]


def test_damaged_page_is_refused_before_any_write(tmp_path: Path) -> None:
    db = _journal(tmp_path)
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[3 * page:3 * page + 32] = b"\xff" * 32
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    with pytest.raises(StateError, match="damaged"):
        Store.open(tmp_path, "sim")
    assert db.read_bytes() == before
    assert not health.is_clean(db)


def test_zero_byte_file_is_new_unless_btcbot_had_closed_it(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / DB_FILENAME).touch()  # a first run killed before SQLite wrote anything
    Store.open(fresh, "sim").close()
    db = _journal(tmp_path / "old")
    db.write_bytes(b"")
    with pytest.raises(StateError, match="truncated to 0 bytes"):
        Store.open(tmp_path / "old", "sim")


def test_writer_killed_before_its_close_makes_the_next_open_scan_first(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The close checkpoints the WAL and records the clean fingerprint; a writer that dies first (SIGKILL, power
    loss) leaves its committed frames in the WAL and no new fingerprint: the next writer scans first."""
    import subprocess
    import sys

    db = _journal(tmp_path)
    killed = ("import os, sys; from datetime import UTC, datetime; from pathlib import Path; "
              "from btcbot.adapters.sqlite.store import Store; "
              "s = Store.open(Path(sys.argv[1]), 'sim'); s.set_kv('k', 'v', datetime.now(UTC)); os._exit(9)")
    assert subprocess.run([sys.executable, "-c", killed, str(tmp_path)], check=False).returncode == 9
    assert not health.is_clean(db)
    scans = _quick_checks(monkeypatch)
    store = Store.open(tmp_path, "sim")
    assert store.get_kv("k") == "v"  # the committed write survived the kill
    store.close()
    assert scans == [str(db)] and health.is_clean(db)
