"""What `btcbot compact` may move out of the journal, as SQL (R-STATE-5). `Store` mixes these methods in.

A rule per table that grows with every cycle: rows older than the cutoff (by the table's time column) are
archived unless one of the table's `Keep` conditions holds (the first that holds is the reason reported).
Every other table is never archived (`NEVER`, with why). Batches follow the rowid, so no statement holds more
than `limit` rows; each batch's delete runs in one transaction with its archive record and its event, and
only removes rows still archivable then (the caller holds the instance lock, so nothing else writes).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from btcbot.adapters.sqlite.mixin import StoreMixin
from btcbot.adapters.sqlite.mixin import iso as _iso
from btcbot.domain.events import Event, EventKind
from btcbot.domain.order_fsm import TERMINAL, OrderStatus

__all__ = ["NEVER", "RULES", "ArchiveBatch", "CompactionMixin", "Keep", "Rule"]

_OPEN = ",".join(f"'{s.value}'" for s in OrderStatus if s not in TERMINAL)  # constants, not user input


@dataclass(frozen=True, slots=True)
class Keep:
    reason: str
    why: str
    where: str  # SQL condition on the table's row: true = kept


@dataclass(frozen=True, slots=True)
class Rule:
    table: str
    time_column: str
    keeps: tuple[Keep, ...]


_DEPENDENT_RULES: tuple[Rule, ...] = (
    Rule("events", "ts", (
        Keep("position_oversold", "re-derived with the same id whenever a position is rebuilt from its fills",
             "kind = 'POSITION_OVERSOLD'"),
        Keep("breach_in_force", "the risk breach of the trading-state episode still in force (re-derived, under "
             "the same id, while it holds)", "kind = 'RISK_LIMIT_BREACHED' AND :state_since IS NOT NULL "
             "AND ts >= :state_since"),
        Keep("order_not_terminal", "events of orders still open or in flight",
             f"client_order_id IN (SELECT client_order_id FROM orders WHERE status IN ({_OPEN}))"),
    )),
    Rule("balances", "as_of", (
        Keep("latest_snapshot", "the latest balance snapshot of each venue (status, reconcile)",
             "id IN (SELECT b.id FROM balances b JOIN (SELECT venue, MAX(cycle_id) AS c FROM balances "
             "GROUP BY venue) m ON b.venue = m.venue AND b.cycle_id = m.c)"),
    )),
    Rule("actions", "created_at", (
        Keep("dedupe_window_open", "its dedupe bucket has not ended (the same submit is still refused)",
             "(bucket + 1) * :bucket_seconds > :cutoff_epoch"),
    )),
    Rule("idempotency_keys", "created_at", (
        Keep("bucket_open", "its time bucket has not ended (the key can still be claimed again)",
             "key NOT LIKE 'submit:%' OR (CAST(replace(key, rtrim(key, '0123456789'), '') AS INTEGER) + 1) "
             "* :bucket_seconds > :cutoff_epoch"),
    )),
)


def _holds(keep: Keep) -> str:
    """The keep condition as a plain truth value (NULL, e.g. `NULL IN (...)`, is false: archived)."""
    return f"COALESCE(({keep.where}), 0)"


def _archivable(rule: Rule) -> str:
    return f"{rule.time_column} < :cutoff AND NOT ({' OR '.join(_holds(k) for k in rule.keeps)})"


def _cycles_rule() -> Rule:
    """Cycles go last, once nothing that stays points at them: orders, fills and chain steps always stay; of
    the other tables only the rows their own rules keep (so a preview counts what `--apply` does)."""
    stays = [f"SELECT cycle_id FROM {r.table} WHERE NOT ({_archivable(r)})" for r in _DEPENDENT_RULES
             if r.table != "idempotency_keys"]  # (no cycle_id there)
    referenced = " UNION ".join([f"SELECT cycle_id FROM {t}" for t in ("orders", "fills", "replace_chains")] + stays)
    return Rule("cycles", "started_at", (
        Keep("latest_cycle", "the latest cycle of each venue (status, metrics, notifications)",
             "id IN (SELECT MAX(id) FROM cycles GROUP BY venue)"),
        Keep("referenced", "orders, fills, replace-chain steps or rows that stay point at it",
             f"id IN ({referenced})"),
    ))


RULES: tuple[Rule, ...] = (*_DEPENDENT_RULES, _cycles_rule())

NEVER: Mapping[str, str] = {
    "orders": "accounting, reconcile and the dedupe of open, in-flight and recently filled orders",
    "fills": "accounting: positions and PnL are rebuilt from every fill",
    "positions": "the current positions",
    "replace_chains": "each step points at its orders; status shows the latest",
    "trailing_marks": "the armed trailing stops",
    "kv": "current state: trading state, balance baseline, marks, equity",
    "breaker": "the circuit breaker",
    "rate_limit_blocks": "429 blocks still in force",
    "rate_limit_windows": "request stamps of the live rate-limit windows",
    "exchange_rules": "the symbol rules cache",
    "row_counts": "the counts status shows",
    "archives": "the record of every archive written",
}


@dataclass(frozen=True, slots=True)
class ArchiveBatch:
    """Rows of one table to archive, oldest rowid first."""

    table: str
    rows: list[dict[str, Any]]
    rowids: list[int]


class CompactionMixin(StoreMixin):
    def compaction_counts(self, rule: Rule, params: Mapping[str, object]) -> dict[str, int]:
        """Rows older than the cutoff by outcome: 'archive' or the reason of the first keep that holds."""
        cases = " ".join(f"WHEN {_holds(k)} THEN '{k.reason}'" for k in rule.keeps)
        rows = self.db.query(
            f"SELECT CASE {cases} ELSE 'archive' END AS compact_verdict, COUNT(*) AS n FROM {rule.table} "
            f"WHERE {rule.time_column} < :cutoff GROUP BY compact_verdict", dict(params))  # (cycles has `outcome`)
        return {r["compact_verdict"]: int(r["n"]) for r in rows}

    def archive_batch(self, rule: Rule, params: Mapping[str, object], after_rowid: int, limit: int) -> ArchiveBatch:
        """The next (at most `limit`) archivable rows of `rule.table` after `after_rowid`."""
        rows = self.db.query(
            f"SELECT rowid AS _rowid, * FROM {rule.table} WHERE rowid > :after AND {_archivable(rule)} "
            f"ORDER BY rowid LIMIT {int(limit)}", {**params, "after": after_rowid})
        records = [dict(r) for r in rows]
        return ArchiveBatch(rule.table, records, [int(record.pop("_rowid")) for record in records])

    def delete_archived(self, rule: Rule, params: Mapping[str, object], batch: ArchiveBatch, file: str,
                        sha256: str, now: datetime) -> None:
        """Delete the batch's rows, record its archive file and write its event, in one transaction. Rows of its
        range that are not exactly the batch stop it all (ValueError; nothing is deleted)."""
        off = self.db.foreign_keys_off() if rule.table == "cycles" else nullcontext()  # the keep proved no refs
        with off, self.db.atomic() as conn:  # the batch is every archivable row of its rowid range
            deleted = conn.execute(
                f"DELETE FROM {rule.table} WHERE rowid BETWEEN :first AND :last AND {_archivable(rule)}",
                {**params, "first": batch.rowids[0], "last": batch.rowids[-1]}).rowcount
            if deleted != len(batch.rowids):
                raise ValueError(f"{rule.table}: only {deleted} of {len(batch.rowids)} rows were still archivable")
            conn.execute(
                "INSERT INTO archives (file, sha256, table_name, rows, first_rowid, last_rowid, cutoff, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (file, sha256, rule.table, len(batch.rowids), batch.rowids[0], batch.rowids[-1],
                 str(params["cutoff"]), _iso(now)))
            detail = {"table": rule.table, "rows": str(len(batch.rowids)), "file": file,
                      "cutoff": str(params["cutoff"])}
            self._insert_event(conn, Event(EventKind.JOURNAL_COMPACTED, rule.table.upper(), detail=detail),
                               None, now)

    def archive_files(self) -> set[str]:
        """File names of every archive the journal has recorded."""
        return {r["file"] for r in self.db.query("SELECT file FROM archives")}
