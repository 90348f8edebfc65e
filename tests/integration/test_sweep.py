"""`btcbot backtest sweep`: one backtest per grid point, the same JSON on 1 process, 2 processes and Dask."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcbot.cli import app

runner = CliRunner()
DATA = ["--sample", "--to", "2025-01-06T04:00:00Z", "--every", "5", "--set", "stale_order_seconds=600"]
GRID = '[grid]\nmin_profit_bps = ["10", "60"]\nBTCBOT_ORDER_NOTIONAL_TRY = [150, "300"]\n'


def sweep(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["backtest", "sweep", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    return path


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")  # installed with .[dev]; the import is the check
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def test_sweep_same_json_on_one_process_two_processes_and_a_dask_cluster(grid: Path, dask_scheduler: str) -> None:
    one = sweep("--grid", str(grid), *DATA, "--jobs", "1", "--json")
    two = sweep("--grid", str(grid), *DATA, "--jobs", "2", "--json")
    on_dask = sweep("--grid", str(grid), *DATA, "--dask-scheduler", dask_scheduler, "--json")
    assert one[0] == two[0] == on_dask[0] == 0, one[2] + two[2] + on_dask[2]
    assert one[1] == two[1] == on_dask[1]
    results = json.loads(one[1])
    assert [r["params"] for r in results] == [
        {"min_profit_bps": "10", "order_notional_try": "150"}, {"min_profit_bps": "10", "order_notional_try": "300"},
        {"min_profit_bps": "60", "order_notional_try": "150"}, {"min_profit_bps": "60", "order_notional_try": "300"},
    ]
    assert len({r["report"]["realized_pnl"] for r in results}) > 1  # the parameters matter
    for item in results:
        assert item["report"]["settings"] == {"stale_order_seconds": "600", **item["params"]}


def test_sweep_point_equals_a_single_backtest_with_the_same_settings(grid: Path) -> None:
    code, out, _ = sweep("--grid", str(grid), *DATA, "--jobs", "1", "--json")
    single = runner.invoke(app, ["backtest", *DATA, "--set", "min_profit_bps=60", "--set", "order_notional_try=300",
                                 "--json"])
    assert code == 0 and single.exit_code == 0
    assert json.loads(out)[3]["report"] == json.loads(single.stdout)


def test_sweep_table_is_sorted_by_the_chosen_metric(grid: Path) -> None:
    code, out, _ = sweep("--grid", str(grid), *DATA, "--jobs", "1", "--json")
    results = json.loads(out)
    best = max(results, key=lambda r: Decimal(r["report"]["fees_paid"]))
    code, table, err = sweep("--grid", str(grid), *DATA, "--jobs", "1", "--sort-by", "fees_paid")
    assert code == 0, err
    first = next(line for line in table.splitlines() if line.strip("│ ").startswith("1 "))
    assert best["params"]["min_profit_bps"] in first and best["params"]["order_notional_try"] in first


@pytest.mark.parametrize(("content", "message"), [
    ('min_profit_bps = ["10"]\n', "needs a [grid] table"),
    ("[grid]\n", "needs a [grid] table"),
    ('[grid]\nmin_proft_bps = ["10"]\n', "grid min_proft_bps: unknown setting (did you mean 'min_profit_bps'?)"),
    ("[grid]\nmin_profit_bps = []\n", "grid min_profit_bps: expected a non-empty list"),
    ("[grid]\nmin_profit_bps = [0.5]\n", "floats lose precision"),
    ('[grid]\nstate_dir = ["x"]\n', "BTCBOT_STATE_DIR does not apply to backtests"),
    ('[grid]\norder_notional_try = ["100", "5000"]\n', "grid point {order_notional_try=5000}"),
    ('[grid]\nmin_profit_bps = ["x"]\n', "BTCBOT_MIN_PROFIT_BPS"),
    ("[grid\n", "not a readable TOML file"),
])
def test_sweep_bad_grid_exits_2_before_running_anything(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(content)
    code, out, err = sweep("--grid", str(path), *DATA)
    assert code == 2 and message in err and out == ""


def test_sweep_unknown_sort_key_and_missing_grid_exit_2(grid: Path) -> None:
    assert sweep("--grid", str(grid), *DATA, "--sort-by", "luck")[0] == 2
    code, _, err = sweep("--grid", "nowhere.toml", *DATA)
    assert code == 2 and "--grid: file nowhere.toml does not exist" in err


def test_sweep_without_data_options_replays_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text('[grid]\nmin_profit_bps = ["40"]\n')
    code, out, err = sweep("--grid", str(path), "--to", "2025-01-06T01:00:00Z", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["report"]["candles"] == 61
