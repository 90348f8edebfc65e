"""The backtest's journal (ScratchStore: reads from memory, extra indexes) writes exactly what a plain Store
writes: every row of every table, cycle after cycle (the cycle's timings aside, they are wall-clock)."""

from __future__ import annotations

import json

import pytest

import btcbot.backtest.runner as backtest_runner
from btcbot.adapters.sqlite.store import Store
from btcbot.backtest.inputs import load_candles
from btcbot.backtest.runner import BacktestSpec, run_backtest
from btcbot.config import load_settings
from btcbot.domain.replace_fsm import ReplaceChain
from btcbot.services import cycle
from btcbot.services.cycle import CycleReport, Deps, StageConfig


class _PlainStore:
    @staticmethod
    def create(venue: str) -> Store:
        return Store.in_memory(venue)


def journal(store: Store) -> dict[str, list[tuple[object, ...]]]:
    conn = store.db.conn
    tables = [r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table' "
                                         "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    dump = {}
    for table in tables:
        rows = [tuple(r) for r in conn.execute(f"SELECT * FROM main.{table} ORDER BY rowid")]
        if table == "cycles":
            rows = [(*r[:-1], json.dumps({k: v for k, v in json.loads(str(r[-1])).items() if k != "timings_ms"}))
                    for r in rows]
        dump[table] = rows
    return dump


@pytest.mark.parametrize("stage", ["3", "7"])
def test_backtest_scratch_journal_equals_a_plain_store_journal(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    candles = load_candles(True, None, None, None, "2025-01-06T06:00:00Z").candles
    spec = BacktestSpec(load_settings(None, min_profit_bps="20"), "BTCTRY", candles, stage=stage, every=2)
    chains: list[list[ReplaceChain]] = []

    def run_cycle(deps: Deps, config: StageConfig) -> CycleReport:
        report = cycle.run_cycle(deps, config)
        chains.append(report.chains)  # the steps each cycle changed (shown, not written)
        return report

    monkeypatch.setattr(backtest_runner, "run_cycle", run_cycle)
    scratch = run_backtest(spec, keep=True)
    scratch_chains, chains[:] = chains[:], []
    monkeypatch.setattr(backtest_runner, "ScratchStore", _PlainStore)
    plain = run_backtest(spec, keep=True)
    assert scratch_chains == chains
    assert scratch.store is not None and plain.store is not None and type(plain.store) is Store
    try:
        assert scratch.report == plain.report and int(str(scratch.report["fills"])) > 0
        ours, theirs = journal(scratch.store), journal(plain.store)
        assert len(ours["events"]) > 500 and (stage != "3" or len(ours["replace_chains"]) > 0)
        assert ours == theirs
    finally:
        for result in (scratch, plain):
            assert result.store is not None and result.sim is not None
            result.store.close()
            result.sim.close()
