"""`btcbot doctor`: checks config, keys (a signed balances request), clock skew, DB integrity and the lock.
Never trades and never takes the instance lock."""
# Creates nothing: the journal is opened read-only (its 429 blocks and rate windows are honoured; new ones stay
# in memory for this run). A missing state dir is the problem reported (exit 2); any other failed check is 4.

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from btcbot.adapters.btcturk.limiter import InMemoryBlockStore
from btcbot.adapters.lock import LOCK_FILENAME, lock_held
from btcbot.adapters.sqlite.db import Database
from btcbot.adapters.sqlite.migrations import SCHEMA_VERSION
from btcbot.adapters.sqlite.store import DB_FILENAME, Store
from btcbot.bootstrap import btcturk_exchange, select_mode
from btcbot.config import Settings
from btcbot.domain.errors import AuthFailed, ExchangeError, StateError, describe
from btcbot.services.breaker import breaker_json

__all__ = ["MAX_SKEW", "Check", "doctor_exit_code", "run_doctor"]

MAX_SKEW = timedelta(seconds=2)  # BTCTurk refuses stamps more than 5 s off; warn well before that


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    exit_code: int = 4  # when it fails; 2 for the missing state (a usage problem: wrong --state-dir?)


def doctor_exit_code(checks: Sequence[Check]) -> int:
    """0 when every check passes; 2 when the state is missing (the problem reported); otherwise 4."""
    codes = {c.exit_code for c in checks if not c.ok}
    return 0 if not codes else 2 if 2 in codes else 4


def run_doctor(settings: Settings, now: datetime) -> list[Check]:
    checks = [_config(settings), _database(settings), _venue(settings), _lock(settings), _breaker(settings),
              _notify(settings)]
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


class _ReadOnlyBlocks(InMemoryBlockStore):
    """The journal's 429 blocks and rate windows, read once; what doctor adds stays in memory."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.load_blocks())
        self.windows = store.load_windows()

    def close(self) -> None:
        """Nothing to close: the journal was closed once read."""


def _journal(settings: Settings) -> _ReadOnlyBlocks | None:
    """The existing journal's limiter state, read-only; doctor never creates, migrates or writes one."""
    from btcbot.domain.errors import StateError

    try:
        store = Store.open_existing(settings.state_dir, "btcturk")
    except StateError:
        return None  # the database check reports it
    try:
        return _ReadOnlyBlocks(store)
    finally:
        store.close()


def _config(settings: Settings) -> Check:
    gates = settings.missing_live_gates()
    mode = "live armed" if not gates else "dry-run (" + "; ".join(gates) + ")"
    return Check("config", True, f"exchange={settings.exchange} symbols={','.join(settings.symbols)} {mode}")


def _database(settings: Settings) -> Check:
    """The full integrity check, read-only (a damaged file is reported, never touched); no state at all is the
    problem reported (exit 2)."""
    from btcbot.adapters.state_dir import require_existing_state
    from btcbot.domain.errors import StateError

    path = settings.state_dir / DB_FILENAME
    try:
        require_existing_state(settings.state_dir, DB_FILENAME)
    except StateError as exc:
        return Check("state", False, str(exc), exit_code=2)
    try:
        db = Database(path, read_only=True)
    except StateError as exc:
        return Check("database", False, str(exc))
    try:
        result = db.query_one("PRAGMA integrity_check")
        version = db.query_one("PRAGMA user_version")
        ok_integrity = result is not None and result[0] == "ok"
        v = int(version[0]) if version else 0
        ok = ok_integrity and v <= SCHEMA_VERSION
        integrity = "ok" if ok_integrity else f"FAILED ({result[0] if result else 'no answer'})"
        return Check("database", ok, f"{path}: integrity {integrity}, schema {v} (code knows {SCHEMA_VERSION})")
    except (StateError, sqlite3.Error) as exc:
        return Check("database", False, str(exc))
    finally:
        db.close()


def _breaker(settings: Settings) -> Check:
    """The persisted circuit breaker (read only): open is a problem to look at, with when it probes again."""
    path = settings.state_dir / DB_FILENAME
    if not path.exists():
        return Check("breaker", True, "closed (no journal yet)")
    try:
        store = Store.open_existing(settings.state_dir, select_mode(settings).venue)
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


def _venue(settings: Settings) -> Check:
    """The exchange the state dir belongs to (one state dir, one exchange); another one is exit 2."""
    from btcbot.services.venue import EXCHANGE_KEY, exchange_mismatch

    if not (settings.state_dir / DB_FILENAME).exists():
        return Check("state dir", True, f"for {settings.exchange} (no journal yet)")
    try:
        store = Store.open_existing(settings.state_dir, select_mode(settings).venue)
        try:
            problem = exchange_mismatch(store, settings.exchange, settings.state_dir)
            recorded = store.get_kv(EXCHANGE_KEY)
        finally:
            store.close()
    except (sqlite3.Error, StateError) as exc:  # the database check says what is wrong
        return Check("state dir", False, f"unreadable: {describe(exc)}")
    if problem is not None:
        return Check("state dir", False, problem, exit_code=2)
    return Check("state dir", True, f"belongs to {recorded or settings.exchange}"
                                   + ("" if recorded else " (recorded by the next run)"))


def _notify(settings: Settings) -> Check:
    """Notifications are configured or off (the URL is a secret: never shown)."""
    if settings.notify_url is None:
        return Check("notify", True, "off (BTCBOT_NOTIFY_URL not set)")
    return Check("notify", True, f"{settings.notify_kind} (BTCBOT_NOTIFY_URL set; not shown)")


def _lock(settings: Settings) -> Check:
    path = settings.state_dir / LOCK_FILENAME
    if not settings.state_dir.exists():
        return Check("lock", True, "state dir not created yet")
    if lock_held(settings.state_dir):  # never creates the lock file
        return Check("lock", True, f"{path} is held by a running btcbot (normal during a cycle)")
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
