"""What the Store and its mixins (fills.py, trails.py) share: the connection, the venue, the event writer, and
the format of every TEXT time column."""

from __future__ import annotations

import functools
import sqlite3
from datetime import UTC, datetime

from btcbot.adapters.sqlite.db import Database
from btcbot.domain.events import Event

__all__ = ["StoreMixin", "iso", "parse_iso"]


@functools.lru_cache(maxsize=256)  # a cycle stamps dozens of rows with the same `now`
def iso(ts: datetime) -> str:
    """UTC ISO-8601 with microseconds: sorts lexicographically."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime")
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


@functools.lru_cache(maxsize=4096)  # pure; the same stamps are read back cycle after cycle
def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class StoreMixin:
    db: Database
    venue: str

    def _insert_event(self, conn: sqlite3.Connection, event: Event, cycle_id: int | None, now: datetime,
                      key: str | None = None) -> None:
        raise NotImplementedError  # provided by Store
