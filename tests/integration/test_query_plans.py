"""No hot-path query scans a table that grows with history (R-PERF, issue 10). Plans come from SQLite's query
planner without statistics, so a small journal has the same plans as a year-old one; timings are for
scripts/bench_history.py, not for tests."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcbot.adapters.sqlite import db as journal
from btcbot.cli import app

runner = CliRunner()
GROWING = ("orders", "fills", "events", "balances", "actions", "cycles", "replace_chains", "idempotency_keys")


def _shape(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b", "?", " ".join(sql.split()))


def test_cycle_status_and_reconcile_queries_use_an_index_for_every_growing_table(
        isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, str] = {}
    connect = journal.Database._connect

    def traced(self: journal.Database) -> sqlite3.Connection:
        conn = connect(self)
        if self.path.endswith("btcbot.sqlite"):
            conn.set_trace_callback(lambda sql: seen.setdefault(_shape(sql), sql))
        return conn

    monkeypatch.setattr(journal.Database, "_connect", traced)
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "600")
    monkeypatch.setenv("BTCBOT_POSITION_TTL_MINUTES", "30")  # exit legs: the ladder queries run too
    monkeypatch.setenv("BTCBOT_NOTIFY_URL", "http://127.0.0.1:9/hook")  # the notifications' queries run too
    for command in (["run"],) * 8 + (["stage4-run"], ["stage7-run"], ["reconcile"], ["status", "--json"]):
        assert runner.invoke(app, command).exit_code in (0, 4)
    conn = sqlite3.connect(isolated_env / "btcbot.sqlite")
    scans = []
    for shape, sql in seen.items():
        if not shape.upper().startswith("SELECT"):
            continue
        for row in conn.execute("EXPLAIN QUERY PLAN " + sql):
            detail = str(row[3])
            table = detail.split()[1] if detail.startswith("SCAN ") else ""
            if table in GROWING and shape != "SELECT * FROM cycles ORDER BY id DESC LIMIT ?":  # the newest row
                scans.append(f"{detail}: {shape}")
    assert len(seen) > 40  # the trace saw the hot paths
    assert scans == []
