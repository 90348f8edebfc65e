"""`btcbot compact` (R-STATE-5): what it archives leaves every position, PnL figure, money figure of `status`
and reconcile result as it was; every deleted row is in an archive; a re-run finds nothing more."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from faulty import FakeClock as Clock
from typer.testing import CliRunner

from btcbot.adapters.lock import instance_lock
from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sqlite.compaction import RULES
from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import SIM_DB_FILENAME, search_budget, select_mode, stage3_config
from btcbot.cli import app
from btcbot.config import load_settings
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import TradingState
from btcbot.services.compaction import compact
from btcbot.services.cycle import Deps, run_cycle
from btcbot.services.recovery import run_reconcile
from btcbot.services.status import collect_status

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ARCHIVED = [rule.table for rule in RULES]
runner = CliRunner()


@dataclass
class Grown:
    deps: Deps
    clock: Clock
    sim: SimExchange
    state_dir: Path

    @property
    def store(self) -> Store:
        return self.deps.store

    def compact(self, days: int = 7, apply: bool = True) -> Any:
        return compact(self.store, self.state_dir / "archive", days, apply, self.clock.at,
                       self.deps.settings.dedupe_bucket_seconds)


def _open(state_dir: Path, clock: Clock) -> Grown:
    settings = load_settings(state_dir=state_dir, symbols="BTCTRY,ETHTRY")
    sim = SimExchange.open(state_dir / SIM_DB_FILENAME, SimConfig(seed=11, auto_advance=False), clock)
    store = Store.open(state_dir, "sim")
    return Grown(Deps(settings, sim, store, clock, select_mode(settings)), clock, sim, state_dir)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime]:
    """Thirty days of stage-3 cycles, twice a day, against the simulator (orders rest, fill, are sold)."""
    state_dir = tmp_path_factory.mktemp("compact") / "state"
    grown = _open(state_dir, Clock(T0))
    for _ in range(60):
        grown.clock.at += timedelta(hours=12)
        grown.sim.advance(grown.clock.at, ticks=30)
        assert run_cycle(grown.deps, stage3_config(grown.deps.settings)).exit_code == 0
    grown.store.close()
    grown.sim.close()
    return state_dir, grown.clock.at


@pytest.fixture
def grown(isolated_env: Path, template: tuple[Path, datetime]) -> Iterator[Grown]:
    shutil.copytree(template[0], isolated_env)
    opened = _open(isolated_env, Clock(template[1]))
    yield opened
    opened.store.close()
    opened.sim.close()


def _money(grown: Grown) -> dict[str, Any]:
    """Every money figure `status --json` shows, plus the positions and the reconcile result."""
    data = collect_status(grown.deps.settings, now=grown.clock.at)
    reconcile = run_reconcile(grown.deps, False, search_budget(grown.deps.settings))
    return {"positions": data["positions"], "pnl": data["pnl"], "balances": data["balances"],
            "open_orders": data["open_orders"], "unresolved": data["unresolved_orders"],
            "orders": data["counts"]["orders"], "fills": data["counts"]["fills"],
            "ledger": grown.store.positions(), "reconcile": reconcile.differences}


def _rows(store: Store, table: str) -> list[dict[str, Any]]:
    """Every row of `table` (but the events compaction itself writes), in a stable order."""
    rows = [dict(r) for r in store.db.query(f"SELECT * FROM {table}")]
    rows = [r for r in rows if r.get("kind") != EventKind.JOURNAL_COMPACTED.value]
    return sorted(rows, key=lambda r: repr(sorted(r.items())))


def _archived_rows(directory: Path, table: str) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(directory.glob(f"{table}-*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            rows += [json.loads(line) for line in lines]
    return rows


def test_compact_apply_changes_no_position_pnl_money_figure_or_reconcile_result(grown: Grown) -> None:
    bid = grown.sim.order_book("ETHTRY").bids[0].price
    grown.sim.submit_raw("ETHTRY", "buy", "limit", (bid * Decimal("0.9")).quantize(Decimal(1)), Decimal("0.01"),
                         "placed-by-hand")  # an order of someone else: reconcile reports it
    before = _money(grown)
    assert any(d.kind == "EXTERNAL" for d in before["reconcile"])
    assert any(Decimal(p["realized_pnl"]) != 0 for p in before["positions"]) and before["fills"] > 0
    report = grown.compact(days=7)
    assert {t.table: t.archived for t in report.tables}["events"] > 0
    assert {t.table: t.archived for t in report.tables}["balances"] > 0
    assert _money(grown) == before
    counts = grown.store.counts()  # the maintained counters still equal the tables
    assert counts == {t: len(grown.store.db.query(f"SELECT id FROM {t}")) for t in counts}
    assert run_cycle(grown.deps, stage3_config(grown.deps.settings)).exit_code == 0  # and the bot runs on


def test_compact_archive_round_trips_every_deleted_row(grown: Grown) -> None:
    before = {table: _rows(grown.store, table) for table in ARCHIVED}
    report = grown.compact(days=7)
    directory = grown.state_dir / "archive"
    for table in ARCHIVED:
        archived = _archived_rows(directory, table)
        assert sorted(archived + _rows(grown.store, table), key=lambda r: repr(sorted(r.items()))) == before[table]
        assert len(archived) == next(t.archived for t in report.tables if t.table == table)
    recorded = {r["file"]: r["sha256"] for r in grown.store.db.query("SELECT file, sha256 FROM archives")}
    assert recorded == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in report.files}
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in report.files)
    compacted = grown.store.events(kind=EventKind.JOURNAL_COMPACTED)
    assert {json.loads(e["detail"])["file"] for e in compacted} == set(recorded)


def test_compact_preview_changes_nothing_and_announces_what_apply_archives(grown: Grown) -> None:
    before = {table: _rows(grown.store, table) for table in ARCHIVED}
    preview = grown.compact(days=7, apply=False)
    assert {table: _rows(grown.store, table) for table in ARCHIVED} == before
    assert not (grown.state_dir / "archive").exists() and not preview.files
    applied = grown.compact(days=7)
    assert [(t.table, t.archive) for t in preview.tables] == [(t.table, t.archived) for t in applied.tables]


def test_compact_rerun_with_same_cutoff_archives_nothing_more(grown: Grown) -> None:
    first = grown.compact(days=7)
    rows = {table: _rows(grown.store, table) for table in ARCHIVED}
    again = grown.compact(days=7)
    assert first.files and not again.files
    assert all(t.archive == 0 and t.archived == 0 for t in again.tables)
    assert {table: _rows(grown.store, table) for table in ARCHIVED} == rows


def test_compact_keeps_rederivable_events_open_order_events_and_the_latest_snapshot(grown: Grown) -> None:
    store, old = grown.store, grown.clock.at - timedelta(days=20)
    store.record([Event(EventKind.POSITION_OVERSOLD, "POSITION_OVERSOLD", "BTCTRY")], None, old)
    store.set_trading_state(TradingState.REDUCE_ONLY, "RISK_MAX_DRAWDOWN", None, old)
    store.record([Event(EventKind.RISK_LIMIT_BREACHED, "RISK_MAX_DRAWDOWN")], None, old)
    live = [o for o in store.orders() if o.status.value in ("OPEN", "PARTIALLY_FILLED")]
    assert live, "the grown journal has a resting order"
    store.record([Event(EventKind.ORDER_KEPT, "KEPT", live[0].symbol, live[0].client_order_id)], None, old)
    grown.clock.at += timedelta(days=10)  # the bot was stopped: its latest snapshot and cycle are old now
    report = grown.compact(days=7)
    kept = {k.reason: n for t in report.tables for k, n in t.kept}
    assert kept["position_oversold"] == 1 and kept["breach_in_force"] == 1 and kept["order_not_terminal"] >= 1
    assert kept["latest_snapshot"] == len(store.latest_balances()[0]) and kept["latest_cycle"] == 1
    remaining = {(r["kind"], r["client_order_id"]) for r in store.db.query("SELECT * FROM events WHERE ts < ?",
                                                                            (report.cutoff.isoformat(),))}
    assert (EventKind.POSITION_OVERSOLD.value, None) in remaining
    assert (EventKind.RISK_LIMIT_BREACHED.value, None) in remaining
    assert (EventKind.ORDER_KEPT.value, live[0].client_order_id) in remaining
    assert store.latest_balances()[0] and store.last_cycle() is not None


def test_compact_archives_idle_cycles_but_never_a_referenced_or_the_latest_one(grown: Grown) -> None:
    grown.compact(days=7)
    cycles = {r["id"] for r in grown.store.db.query("SELECT id FROM cycles")}
    referenced = {r["cycle_id"] for t in ("orders", "fills", "events", "balances", "actions", "replace_chains")
                  for r in grown.store.db.query(f"SELECT DISTINCT cycle_id FROM {t} WHERE cycle_id IS NOT NULL")}
    assert referenced <= cycles  # nothing points at an archived cycle
    assert len(cycles) < 60 and max(cycles) == 60  # idle ones went, the latest stayed
    assert grown.store.db.query("PRAGMA foreign_key_check") == []


def test_compact_removes_an_unrecorded_archive_of_an_interrupted_run(grown: Grown) -> None:
    directory = grown.state_dir / "archive"
    directory.mkdir(mode=0o700)
    stray = directory / "events-20260301T090000Z-001.jsonl.gz"
    stray.write_bytes(gzip.compress(b'{"id": 1}\n'))
    report = grown.compact(days=7)
    assert report.removed_incomplete == [stray.name] and not stray.exists()


def test_compact_cli_preview_json_says_what_it_keeps_and_why(isolated_env: Path) -> None:
    assert runner.invoke(app, ["run"]).exit_code == 0
    result = runner.invoke(app, ["compact", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["applied"] is False and data["older_than_days"] == 90 and data["files"] == []
    assert [t["table"] for t in data["tables"]] == ARCHIVED
    assert {n["table"] for n in data["never_archived"]} >= {"orders", "fills", "positions", "replace_chains"}


def test_compact_cli_older_than_below_the_minimum_exits_2(isolated_env: Path) -> None:
    result = runner.invoke(app, ["compact", "--older-than", "3", "--apply"])
    assert result.exit_code == 2 and "--older-than" in result.stderr


@pytest.mark.parametrize("days", ["3", "ninety"])
def test_compact_cli_json_usage_error_prints_error_object_exit_2(isolated_env: Path, days: str) -> None:
    result = subprocess.run([sys.executable, "-m", "btcbot", "compact", "--older-than", days, "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert data["exit_code"] == 2 and "--older-than" in data["error"]
    assert "Traceback" not in result.stderr


def test_compact_cli_exits_75_while_another_process_holds_the_lock(isolated_env: Path) -> None:
    assert runner.invoke(app, ["run"]).exit_code == 0
    with instance_lock(isolated_env):
        result = runner.invoke(app, ["compact", "--apply"])
    assert result.exit_code == 75
