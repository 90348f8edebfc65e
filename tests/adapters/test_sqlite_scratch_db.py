"""The backtest journal's database (ScratchDatabase): a remembered read is the read it replaces."""

from __future__ import annotations

import sqlite3

import pytest

from btcbot.adapters.sqlite.scratch_db import ScratchDatabase


@pytest.fixture
def db() -> ScratchDatabase:
    database = ScratchDatabase(unwatched=("u",))
    database.conn.executescript("CREATE TABLE a (k TEXT PRIMARY KEY, v TEXT); CREATE TABLE b (k TEXT, w TEXT);"
                                "CREATE TABLE u (k TEXT)")
    database.make_scratch()
    database.conn.execute("INSERT INTO a VALUES ('x', '1')")
    return database


def statements(db: ScratchDatabase) -> list[str]:
    seen: list[str] = []
    db.conn.set_trace_callback(seen.append)
    return seen


def values(rows: list[sqlite3.Row]) -> list[tuple[object, ...]]:
    return [tuple(r) for r in rows]


def test_scratch_db_unchanged_table_answers_from_memory(db: ScratchDatabase) -> None:
    assert values(db.query("SELECT * FROM a WHERE k = ?", ("x",))) == [("x", "1")]
    seen = statements(db)
    assert values(db.query("SELECT * FROM a WHERE k = ?", ("x",))) == [("x", "1")]
    db.conn.execute("INSERT INTO b VALUES ('x', 'other table')")
    assert values(db.query("SELECT * FROM a WHERE k = ?", ("x",))) == [("x", "1")]
    assert not [s for s in seen if s.startswith("SELECT")]


@pytest.mark.parametrize("write", ["INSERT INTO a VALUES ('y', '2')", "UPDATE a SET v = '2' WHERE k = 'x'",
                                   "DELETE FROM a WHERE k = 'x'",
                                   "INSERT INTO a VALUES ('x', '3') ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                                   "INSERT OR REPLACE INTO a VALUES ('x', '4')"])
def test_scratch_db_any_write_to_a_table_read_runs_the_read_again(db: ScratchDatabase, write: str) -> None:
    sql = "SELECT a.k, a.v, b.w FROM a LEFT JOIN b ON b.k = a.k ORDER BY a.k"
    db.query(sql)
    db.query_one(sql)
    db.conn.execute(write)
    fresh = values(db.conn.execute(sql).fetchall())
    assert values(db.query(sql)) == fresh
    assert (tuple(row) if (row := db.query_one(sql)) else None) == (fresh[0] if fresh else None)


def test_scratch_db_write_to_a_joined_table_runs_the_read_again(db: ScratchDatabase) -> None:
    sql = "SELECT a.k, b.w FROM a JOIN b ON b.k = a.k"
    assert db.query(sql) == []
    db.conn.execute("INSERT INTO b VALUES ('x', 'joined')")
    assert values(db.query(sql)) == [("x", "joined")]


def test_scratch_db_query_and_query_one_are_remembered_apart(db: ScratchDatabase) -> None:
    db.conn.execute("INSERT INTO a VALUES ('y', '2')")
    row = db.query_one("SELECT k FROM a ORDER BY k")
    assert row is not None and row["k"] == "x"
    assert [r["k"] for r in db.query("SELECT k FROM a ORDER BY k")] == ["x", "y"]
    assert db.query_one("SELECT k FROM a WHERE k = 'none'") is None


@pytest.mark.parametrize("sql", ["SELECT k FROM u", "SELECT random() AS r FROM a",
                                 "WITH t AS (SELECT k FROM a) SELECT k FROM t", "SELECT 1 AS one"])
def test_scratch_db_reads_it_cannot_vouch_for_always_run(db: ScratchDatabase, sql: str) -> None:
    db.query(sql)
    seen = statements(db)
    db.query(sql)
    assert seen == [sql]


def test_scratch_db_results_are_fresh_lists(db: ScratchDatabase) -> None:
    first = db.query("SELECT * FROM a")
    first.clear()
    assert values(db.query("SELECT * FROM a")) == [("x", "1")]
