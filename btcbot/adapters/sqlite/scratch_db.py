"""The database of a backtest's journal: in memory, one transaction, and reads answered from memory while
the tables they read have not changed.

A backtest's cycle reads the same rows many times (the open orders by fills, reconcile and the plan; the
positions, the trails, the breaker ...) while most cycles change none of them. Every table gets a TEMP
trigger per INSERT/UPDATE/DELETE that bumps that table's version in Python (`_changed`), so a `query` or
`query_one` of a plain SELECT is answered from the rows it returned last time when the same SQL with the same
parameters reads tables whose versions are unchanged: the same rows, by construction. Anything else (SQL naming
no known table, a CTE, a non-deterministic function, named parameters) always runs. The triggers live in the
connection's TEMP schema: the journal's own schema and rows are untouched.
"""

from __future__ import annotations

import re
import sqlite3

from btcbot.adapters.sqlite.db import Database

__all__ = ["ScratchDatabase"]

_TABLES_READ = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_VOLATILE = re.compile(r"\b(?:WITH|RANDOM|CHANGES|TOTAL_CHANGES|LAST_INSERT_ROWID)\b|'now'", re.IGNORECASE)
_PER_SQL = 8  # remembered parameter sets per statement (a statement whose parameters change every cycle
#               keeps only its latest few)

Params = tuple[object, ...] | dict[str, object]
_Entry = tuple[tuple[int, ...], list[sqlite3.Row]]


class ScratchDatabase(Database):
    """An in-memory scratch `Database` (see `Database.make_scratch`) whose reads are remembered per table
    version. Call `make_scratch()` after migrating: it installs the triggers."""

    def __init__(self, unwatched: tuple[str, ...] = ()) -> None:
        super().__init__(":memory:")
        self.unwatched = unwatched  # tables whose reads always run (e.g. cached by the caller itself)
        self._known: set[str] = set()
        self._versions: dict[str, int] = {}
        self._tables: dict[str, tuple[str, ...] | None] = {}
        self._reads: dict[tuple[bool, str], dict[tuple[object, ...], _Entry]] = {}  # by (one row?, sql)

    def make_scratch(self) -> None:
        with self._lock:
            self._known = {str(r[0]) for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
            self.conn.create_function("scratch_changed", 1, self._changed)
            self.conn.execute("PRAGMA journal_mode = OFF")  # nothing is ever rolled back (make_scratch)
            self.conn.execute("PRAGMA temp_store = MEMORY")
        super().make_scratch()

    def _watch(self, table: str) -> None:
        """Track `table`'s changes from now on (the first time a remembered read names it)."""
        self._versions[table] = 0
        for op in ("INSERT", "UPDATE", "DELETE"):
            self.conn.execute(f"CREATE TEMP TRIGGER scratch_{table}_{op.lower()} AFTER {op} ON main.{table} "
                              f"BEGIN SELECT scratch_changed('{table}'); END")

    def versions(self, tables: tuple[str, ...]) -> tuple[int, ...]:
        """The current versions of `tables` (each changes with every row written to it)."""
        for name in tables:
            if name not in self._versions:
                if name not in self._known:
                    raise KeyError(name)
                self._watch(name)
        return tuple(self._versions[t] for t in tables)

    def _changed(self, table: str) -> None:
        self._versions[table] += 1

    def _tables_of(self, sql: str) -> tuple[str, ...] | None:
        """The tables `sql` reads, or None when its result may depend on anything else."""
        if sql not in self._tables:
            names = tuple(sorted(set(_TABLES_READ.findall(sql))))
            plain = sql.lstrip()[:6].upper() == "SELECT" and not _VOLATILE.search(sql)
            known = bool(names) and all(n in self._known and n not in self.unwatched for n in names)
            self._tables[sql] = names if plain and known else None
            for name in self._tables[sql] or ():
                if name not in self._versions:
                    self._watch(name)
        return self._tables[sql]

    def _remembered(self, one: bool, sql: str, params: Params) -> tuple[list[sqlite3.Row] | None,
                                                                       tuple[int, ...] | None]:
        tables = self._tables_of(sql) if self._scratch and isinstance(params, tuple) else None
        if tables is None:
            return None, None
        versions = tuple(self._versions[t] for t in tables)
        entry = self._reads.get((one, sql), {}).get(params)  # type: ignore[arg-type]
        if entry is not None and entry[0] == versions:
            return entry[1], versions
        return None, versions

    def _remember(self, one: bool, sql: str, params: Params, versions: tuple[int, ...],
                  rows: list[sqlite3.Row]) -> None:
        entries = self._reads.setdefault((one, sql), {})
        if len(entries) >= _PER_SQL:
            entries.clear()
        entries[params] = (versions, rows)  # type: ignore[index]

    def query(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        with self._lock:
            rows, versions = self._remembered(False, sql, params)
            if rows is None:
                rows = super().query(sql, params)
                if versions is not None:
                    self._remember(False, sql, params, versions, rows)
            return list(rows)

    def query_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        with self._lock:
            rows, versions = self._remembered(True, sql, params)
            if rows is None:
                row = super().query_one(sql, params)
                rows = [] if row is None else [row]
                if versions is not None:
                    self._remember(True, sql, params, versions, rows)
            return rows[0] if rows else None
