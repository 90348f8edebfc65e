"""`<state dir>/metrics.prom` (issue 9, item 6; SPEC §11): written after every cycle command, failed ones too,
atomically and privately, in a format prometheus-client's own parser reads, with a sample for every SPEC name."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from btcbot import __version__
from btcbot.adapters.sqlite.store import Store
from btcbot.adapters.sqlite.views import counted_fills
from btcbot.cli import app
from btcbot.services.metrics import METRICS_FILENAME, MetricsSnapshot, write_metrics

runner = CliRunner()
SPEC_NAMES = ["btcbot_last_cycle_timestamp_seconds", "btcbot_last_cycle_ok_timestamp_seconds",
              "btcbot_last_cycle_exit_code", "btcbot_cycle_duration_seconds", "btcbot_orders",
              "btcbot_unresolved_orders", "btcbot_fills_total", "btcbot_fees_paid_try", "btcbot_realized_pnl_try",
              "btcbot_equity_try", "btcbot_drawdown_ratio", "btcbot_trading_state", "btcbot_breaker_open",
              "btcbot_info"]


def _samples(state: Path) -> dict[str, list[Any]]:
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families((state / METRICS_FILENAME).read_text()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def _value(samples: dict[str, list[Any]], name: str, **labels: str) -> float:
    [found] = [s for s in samples[name] if all(s.labels.get(k) == v for k, v in labels.items())]
    return float(found.value)


def _status() -> dict[str, Any]:
    return json.loads(runner.invoke(app, ["status", "--json"]).stdout)  # type: ignore[no-any-return]


def test_metrics_after_cycles_have_every_spec_name_and_agree_with_status(isolated_env: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "300")
    for command in ("run", "stage4-run", "run", "stage7-run", "run"):
        assert runner.invoke(app, [command], env={"BTCBOT_DEDUPE_BUCKET_SECONDS": "1"}).exit_code == 0
    path = isolated_env / METRICS_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    samples = _samples(isolated_env)
    assert [name for name in SPEC_NAMES if name not in samples] == []
    status = _status()
    assert _value(samples, "btcbot_last_cycle_exit_code") == 0
    assert _value(samples, "btcbot_last_cycle_ok_timestamp_seconds") == _value(
        samples, "btcbot_last_cycle_timestamp_seconds") > 0
    assert _value(samples, "btcbot_orders", status="OPEN") == sum(o["status"] == "OPEN" for o in status["open_orders"])
    assert _value(samples, "btcbot_fills_total") == status["counts"]["fills"] > 0
    assert _value(samples, "btcbot_unresolved_orders") == len(status["unresolved_orders"]) == 0
    assert _value(samples, "btcbot_equity_try") == pytest.approx(float(status["pnl"]["equity"]))
    assert _value(samples, "btcbot_fees_paid_try") == pytest.approx(float(status["pnl"]["fees_total"]))
    assert _value(samples, "btcbot_realized_pnl_try") == pytest.approx(float(status["pnl"]["realized_total"]))
    assert _value(samples, "btcbot_drawdown_ratio") == pytest.approx(float(status["pnl"]["drawdown_pct"]) / 100)
    assert [s.labels["state"] for s in samples["btcbot_trading_state"] if s.value == 1] == ["NORMAL"]
    assert _value(samples, "btcbot_breaker_open") == 0
    assert samples["btcbot_info"][0].labels == {"version": __version__, "exchange": "sim", "venue": "sim"}
    assert sorted(p.name for p in isolated_env.iterdir() if "prom" in p.name) == [METRICS_FILENAME]  # no temp left


def test_metrics_after_a_failed_cycle_exit_1_show_its_exit_code(isolated_env: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(app, ["run"]).exit_code == 0
    ok_at = _value(_samples(isolated_env), "btcbot_last_cycle_ok_timestamp_seconds")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in planning")

    monkeypatch.setattr("btcbot.services.cycle.plan_lifecycle", broken)
    assert runner.invoke(app, ["run"]).exit_code == 1
    samples = _samples(isolated_env)
    assert _value(samples, "btcbot_last_cycle_exit_code") == 1
    assert _value(samples, "btcbot_last_cycle_ok_timestamp_seconds") == ok_at
    assert _value(samples, "btcbot_last_cycle_timestamp_seconds") > ok_at


def test_metrics_after_an_aborted_cycle_exit_3(outage: Path) -> None:
    samples = _samples(outage)
    assert _value(samples, "btcbot_last_cycle_exit_code") == 3
    assert samples["btcbot_info"][0].labels["venue"] == "paper"


def test_metrics_file_that_cannot_be_written_never_fails_the_cycle(isolated_env: Path) -> None:
    isolated_env.mkdir(mode=0o700)
    (isolated_env / METRICS_FILENAME).mkdir()  # rename over a directory fails
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 0
    [line] = result.stderr.strip().splitlines()  # one warning line, the cycle itself unaffected
    assert "metrics file not written (IsADirectoryError)" in line


def test_write_metrics_is_atomic_temp_file_then_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / METRICS_FILENAME
    path.write_text("# the previous file\n")
    renames: list[tuple[str, str, str]] = []
    real_rename = os.rename

    def spy(src: str, dst: str) -> None:
        renames.append((src, dst, Path(src).read_text()))
        assert path.read_text() == "# the previous file\n"  # readers see the old file until the rename
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", spy)
    write_metrics(path, MetricsSnapshot("1", "sim", "sim", 1.0, 1.0, 0, 0.1))
    [(src, dst, written)] = renames
    assert Path(src).parent == tmp_path and src != str(path) and dst == str(path)
    assert path.read_text() == written and "btcbot_last_cycle_exit_code 0.0" in written
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_metrics_failure_keeps_the_previous_file_and_no_temp(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path = tmp_path / "state"
    tmp_path.mkdir()
    path = tmp_path / METRICS_FILENAME
    path.write_text("# the previous file\n")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "rename", fail)
    with pytest.raises(OSError):
        write_metrics(path, MetricsSnapshot("1", "sim", "sim", 1.0, 1.0, 0, 0.1))
    assert [p.name for p in tmp_path.iterdir()] == [METRICS_FILENAME]
    assert path.read_text() == "# the previous file\n"


def test_fill_count_is_incremental_and_exact_per_venue(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "300")
    for _ in range(4):
        assert runner.invoke(app, ["run"]).exit_code == 0
    store = Store.open(isolated_env, "sim")
    try:
        exact = int(store.db.query_one("SELECT COUNT(*) AS n FROM fills WHERE venue = 'sim'")["n"])  # type: ignore[index]
        assert counted_fills(store, None) == exact > 0
        other = Store(store.db, "paper")
        assert counted_fills(other, None) == 0
    finally:
        store.close()
    with sqlite3.connect(isolated_env / "btcbot.sqlite") as conn:
        kept = json.loads(conn.execute("SELECT value FROM kv WHERE key = 'metrics_fills_counted'").fetchone()[0])
    assert kept["sim"][1] == exact
