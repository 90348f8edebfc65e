"""Durability of the write-ahead row (issue 8, finding 5): in WAL mode `synchronous=NORMAL` may lose the last
commits on power loss, so the journal's connection commits with `synchronous=FULL` (each COMMIT fsyncs the WAL
before the POST that follows it). Cost per cycle: scripts/bench_sync.py."""

from __future__ import annotations

from pathlib import Path

from btcbot.adapters.sqlite.db import Database
from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import open_deps
from btcbot.config import load_settings

FULL = 2


def test_database_file_connection_uses_wal_and_synchronous_full(tmp_path: Path) -> None:
    db = Database(tmp_path / "j.sqlite")
    try:
        assert db.query_one("PRAGMA journal_mode")[0] == "wal"  # type: ignore[index]
        assert db.query_one("PRAGMA synchronous")[0] == FULL  # type: ignore[index]
    finally:
        db.close()


def test_cycle_journal_connection_uses_synchronous_full(tmp_path: Path) -> None:
    settings = load_settings(None, state_dir=tmp_path / "state")
    with open_deps(settings) as deps:
        assert deps.store.db.query_one("PRAGMA synchronous")[0] == FULL  # type: ignore[index]


def test_reopened_journal_still_uses_synchronous_full(tmp_path: Path) -> None:
    Store.open(tmp_path, "sim").close()
    store = Store.open(tmp_path, "sim")
    try:
        assert store.db.query_one("PRAGMA synchronous")[0] == FULL  # type: ignore[index]
    finally:
        store.close()
