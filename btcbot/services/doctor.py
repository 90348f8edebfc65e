"""`btcbot doctor`: checks config, keys (a signed balances request), clock skew, DB integrity and the lock.
Never trades and never takes the instance lock."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from filelock import FileLock, Timeout

from btcbot.adapters.lock import LOCK_FILENAME
from btcbot.adapters.sqlite.db import Database
from btcbot.adapters.sqlite.migrations import SCHEMA_VERSION
from btcbot.adapters.sqlite.store import DB_FILENAME, Store
from btcbot.bootstrap import btcturk_exchange, select_mode
from btcbot.config import Settings
from btcbot.domain.errors import AuthFailed, ExchangeError, StateError, describe
from btcbot.services.breaker import breaker_json

__all__ = ["MAX_SKEW", "Check", "run_doctor"]

MAX_SKEW = timedelta(seconds=2)  # BTCTurk refuses stamps more than 5 s off; warn well before that


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_doctor(settings: Settings, now: datetime) -> list[Check]:
    checks = [_config(settings), _database(settings), _lock(settings), _breaker(settings)]
    if settings.exchange == "btcturk":
        store = _journal(settings)  # its 429 blocks and rate windows apply to doctor's requests too (R-EX-4)
        try:
            exchange = btcturk_exchange(settings, block_store=store)
            try:
                checks += [_clock(exchange, now), _keys(exchange, settings)]
            finally:
                exchange.close()
        finally:
            if store is not None:
                store.close()
    else:
        checks.append(Check("exchange", True, "built-in simulator (offline); no keys or clock needed"))
    return checks


def _journal(settings: Settings) -> Store | None:
    """The existing journal when its schema is current; doctor never creates or migrates one."""
    path = settings.state_dir / DB_FILENAME
    if not path.exists():
        return None
    db = Database(path)
    try:
        row = db.query_one("PRAGMA user_version")
        if row is not None and int(row[0]) == SCHEMA_VERSION:
            return Store(db, "btcturk")  # the caller closes it
    except sqlite3.Error:
        pass  # the database check reports it
    db.close()
    return None


def _config(settings: Settings) -> Check:
    gates = settings.missing_live_gates()
    mode = "live armed" if not gates else "dry-run (" + "; ".join(gates) + ")"
    return Check("config", True, f"exchange={settings.exchange} symbols={','.join(settings.symbols)} {mode}")


def _database(settings: Settings) -> Check:
    path = settings.state_dir / DB_FILENAME
    if not path.exists():
        return Check("database", True, f"{path} not created yet (the first run creates it)")
    db = Database(path)
    try:
        result = db.query_one("PRAGMA integrity_check")
        version = db.query_one("PRAGMA user_version")
        ok_integrity = result is not None and result[0] == "ok"
        v = int(version[0]) if version else 0
        ok = ok_integrity and v <= SCHEMA_VERSION
        return Check("database", ok, f"integrity {'ok' if ok_integrity else result[0] if result else '?'}, "
                                     f"schema {v} (code knows {SCHEMA_VERSION})")
    finally:
        db.close()


def _breaker(settings: Settings) -> Check:
    """The persisted circuit breaker (read only): open is a problem to look at, with when it probes again."""
    path = settings.state_dir / DB_FILENAME
    if not path.exists():
        return Check("breaker", True, "closed (no journal yet)")
    try:
        store = Store(Database(path), select_mode(settings).venue)
        try:
            info = breaker_json(store.breaker())
        finally:
            store.close()
    except (sqlite3.Error, StateError, ValueError) as exc:  # the database check says what is wrong
        return Check("breaker", False, f"unreadable: {describe(exc)}")
    if info["state"] == "open":
        return Check("breaker", False, f"open since {info['opened_at']} after {info['failures']} failed cycles; "
                                       f"runs exit 3 without calling the exchange until {info['next_probe_at']}")
    return Check("breaker", True, f"{info['state']} ({info['failures']} failed cycles in the window)")


def _lock(settings: Settings) -> Check:
    path = settings.state_dir / LOCK_FILENAME
    if not settings.state_dir.exists():
        return Check("lock", True, "state dir not created yet")
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return Check("lock", True, f"{path} is held by a running btcbot (normal during a cycle)")
    lock.release()
    return Check("lock", True, f"{path} free")


def _clock(exchange: Any, now: datetime) -> Check:
    try:
        server = exchange.server_time()
    except ExchangeError as exc:
        return Check("clock", False, f"server time unavailable: {describe(exc)}")
    skew = server - now
    ok = abs(skew) <= MAX_SKEW
    return Check("clock", ok, f"skew {skew.total_seconds():+.3f} s vs exchange (limit ±{MAX_SKEW.seconds} s)")


def _keys(exchange: Any, settings: Settings) -> Check:
    if not settings.keys_present:
        return Check("keys", False, "BTCTURK_API_KEY/BTCTURK_API_SECRET are not set")
    try:
        balances = exchange.balances()
    except AuthFailed as exc:
        return Check("keys", False, f"signature refused: {exc}")
    except ExchangeError as exc:
        return Check("keys", False, f"balances unavailable: {describe(exc)}")
    return Check("keys", True, f"signed balances request ok ({len(balances)} assets)")
