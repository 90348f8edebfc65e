"""Idempotency keys (R-EXEC-5): the `idempotency_keys` table. `Store` mixes these methods in.

A claim runs inside the caller's transaction (nested `atomic()` is a savepoint), so a key, the order row it
produced and their events commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from btcbot.adapters.sqlite.db import Database
from btcbot.domain.idempotency import IdemVerdict, judge

__all__ = ["IdempotencyMixin", "IdempotencyRecord"]


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    key: str
    payload_hash: str
    result: str | None  # what the first claim produced (a client order id)
    created_at: str


class IdempotencyMixin:
    db: Database

    def claim_idempotency(self, key: str, payload_hash: str, result: str, now: datetime
                          ) -> tuple[IdemVerdict, IdempotencyRecord]:
        """Claim `key` for `payload_hash` (INSERT OR IGNORE); return the verdict and the record in force."""
        from btcbot.adapters.sqlite.store import iso

        with self.db.atomic() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO idempotency_keys (key, payload_hash, result, created_at) VALUES (?, ?, ?, ?)",
                (key, payload_hash, result, iso(now)),
            )
            if cur.rowcount == 1:
                return IdemVerdict.NEW, IdempotencyRecord(key, payload_hash, result, iso(now))
            row = conn.execute("SELECT * FROM idempotency_keys WHERE key = ?", (key,)).fetchone()
        record = IdempotencyRecord(row["key"], row["payload_hash"], row["result"], row["created_at"])
        return judge(record.payload_hash, payload_hash), record

    def idempotency_record(self, key: str) -> IdempotencyRecord | None:
        row = self.db.query_one("SELECT * FROM idempotency_keys WHERE key = ?", (key,))
        if row is None:
            return None
        return IdempotencyRecord(row["key"], row["payload_hash"], row["result"], row["created_at"])
