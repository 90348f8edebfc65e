"""Durability of the write-ahead row (issue 8, finding 5): in WAL mode `synchronous=NORMAL` may lose the last
commits on power loss, so the journal's connection commits with `synchronous=FULL`; bookkeeping that a durable
commit always follows before anything is sent commits without the fsync (issue 10). Cost: scripts/bench_sync.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import T0, make_order

from btcbot.adapters.sqlite.db import Database
from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import open_deps, stage3_config
from btcbot.config import load_settings
from btcbot.domain.errors import StateError
from btcbot.domain.events import Event, EventKind
from btcbot.services.cycle import run_cycle

FULL, NORMAL = 2, 1


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


def test_relaxed_transaction_commits_at_normal_and_restores_the_level_it_found(tmp_path: Path) -> None:
    store = Store.open(tmp_path, "sim")
    try:
        with store.db.atomic(durable=False):
            assert store.db.relaxed and store.db.query_one("PRAGMA synchronous")[0] == NORMAL  # type: ignore[index]
            with store.db.atomic():  # nested: part of the outer transaction
                assert store.db.relaxed
        assert not store.db.relaxed and store.db.query_one("PRAGMA synchronous")[0] == FULL  # type: ignore[index]
    finally:
        store.close()


def test_order_row_refuses_a_relaxed_transaction(tmp_path: Path) -> None:
    store = Store.open(tmp_path, "sim")
    try:
        with pytest.raises(StateError, match="durably"), store.db.atomic(durable=False):
            store.insert_order(make_order(), None, Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD"), T0)
        assert store.orders() == []
    finally:
        store.close()


def test_every_order_and_cancel_sent_follows_a_durable_commit_and_the_cycle_ends_with_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "600")
    monkeypatch.setenv("BTCBOT_STALE_ORDER_SECONDS", "60")  # resting orders are cancelled and replaced
    settings = load_settings(None, state_dir=tmp_path / "state")
    sent = 0
    for _ in range(8):
        with open_deps(settings) as deps:
            log: list[str] = []
            deps.store.db.conn.set_trace_callback(log.append)
            sim = deps.exchange
            for name in ("submit_order", "cancel_order"):
                call = getattr(sim, name)
                monkeypatch.setattr(sim, name, lambda *a, _call=call, _name=name, _log=log: (
                    _log.append(f"SEND {_name}"), _call(*a))[1])
            run_cycle(deps, stage3_config(settings))
            deps.store.db.conn.set_trace_callback(None)
        level, last_commit = "FULL", ""
        for entry in log:
            if entry.startswith("PRAGMA synchronous = "):
                level = {"1": "NORMAL", "2": "FULL"}.get(entry.rsplit(" ", 1)[1], entry.rsplit(" ", 1)[1])
            elif entry == "COMMIT":
                last_commit = level
            elif entry.startswith("SEND"):
                sent += 1
                assert last_commit == "FULL", entry
        assert last_commit == "FULL"  # the cycle's record at its end
    assert sent > 3  # orders were placed and cancelled
