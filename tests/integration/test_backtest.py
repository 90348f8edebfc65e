"""`btcbot backtest`: the same cycle over candles, the report's contract (SPEC §13), outputs and input errors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from factories import make_candles
from hypothesis import event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from btcbot.backtest import charts
from btcbot.backtest.runner import BacktestSpec, run_backtest
from btcbot.bootstrap import STAGES
from btcbot.cli import app
from btcbot.config import load_settings
from btcbot.domain.accounting import replay
from btcbot.domain.candles import format_csv

runner = CliRunner()
SLICE = ["--to", "2025-01-06T03:00:00Z"]  # the sample's first three hours: 181 candles
MONEY = ("start_equity", "end_equity", "realized_pnl", "unrealized_pnl", "fees_paid", "turnover")
KEYS = (*MONEY, "max_drawdown_pct", "orders", "fills", "fill_ratio", "exposure_pct", "cycles", "symbol", "stage",
        "from", "to", "seed", "settings")


def backtest(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["backtest", *args])
    return result.exit_code, result.stdout, result.stderr


def identity_holds(report: dict[str, object]) -> bool:
    def d(key: str) -> Decimal:
        return Decimal(str(report[key]))

    return d("end_equity") - d("start_equity") == d("realized_pnl") + d("unrealized_pnl")


def test_backtest_sample_twice_prints_byte_identical_json_with_the_report_keys(isolated_env: Path) -> None:
    first = backtest("--sample", *SLICE, "--json", "--set", "min_profit_bps=20")
    second = backtest("--sample", *SLICE, "--json", "--set", "min_profit_bps=20")
    assert first[0] == second[0] == 0
    assert first[1] == second[1]  # byte for byte; timings are on stderr
    assert "cycles/s" in first[2] and "cycles/s" not in first[1]
    report = json.loads(first[1])
    assert all(key in report for key in KEYS)
    assert all(isinstance(report[key], str) for key in MONEY)
    assert (report["symbol"], report["stage"], report["seed"]) == ("BTCTRY", "3", 42)
    assert (report["from"], report["to"]) == ("2025-01-06T00:00:00Z", "2025-01-06T03:00:00Z")
    assert report["settings"] == {"min_profit_bps": "20"} and report["cycles"] == 181
    assert int(report["fills"]) > 0 and identity_holds(report)
    assert not isolated_env.exists()  # a backtest never creates or touches the state directory


def test_backtest_seed_is_echoed_and_the_data_digest_depends_only_on_the_data() -> None:
    reports = [json.loads(backtest("--sample", *SLICE, "--json", "--seed", seed)[1]) for seed in ("1", "2")]
    assert reports[0]["seed"] == 1 and reports[1]["seed"] == 2
    assert reports[0]["data_sha256"] == reports[1]["data_sha256"]


steps = st.lists(st.integers(min_value=-60, max_value=60), min_size=4, max_size=40)
volumes = st.lists(st.sampled_from(["0.00003", "0.0002", "0.5", "3"]), min_size=40, max_size=40)


@settings(max_examples=25)
@given(steps=steps, volumes=volumes, seed=st.integers(min_value=0, max_value=2**32), every=st.sampled_from([1, 2]))
def test_backtest_money_identity_holds_exactly_on_random_candle_paths(steps: list[int], volumes: list[str],
                                                                      seed: int, every: int) -> None:
    closes, price = [], Decimal(3_500_000)
    for bps in steps:
        price = (price * (1 + Decimal(bps) / 10_000)).quantize(Decimal(1))
        closes.append(price)
    candles = [c.__class__(c.open_time, c.open, c.high, c.low, c.close, Decimal(v))
               for c, v in zip(make_candles(closes, spread="0.001"), volumes, strict=False)]
    config = load_settings(None, min_profit_bps="5", stale_order_seconds=120, stop_loss_bps="30")
    result = run_backtest(BacktestSpec(config, "BTCTRY", candles, seed=seed, every=every))
    report = result.report
    assert identity_holds(report)
    event(f"fills: {'some' if report['fills'] else 'none'}")
    event(f"position: {'open' if report['end_position'] != '0' else 'flat'}")
    assert Decimal(str(report["end_equity"])) == result.curve[-1].equity
    assert report["cycles"] == -(-len(candles) // every)


def test_backtest_fills_and_fees_reconcile_exactly_with_its_own_ledger() -> None:
    from btcbot.backtest.inputs import load_candles

    data = load_candles(True, None, None, None, "2025-01-06T08:00:00Z")
    spec = BacktestSpec(load_settings(None, min_profit_bps="10"), "BTCTRY", data.candles, seed=3)
    result = run_backtest(spec, keep=True)
    assert result.store is not None and result.sim is not None
    try:
        venue = sorted(result.sim.fills(["BTCTRY"]), key=lambda f: int(f.trade_id))
        ledger = sorted(result.store.fills(bot_only=True), key=lambda f: int(f.trade_id))
        report = result.report
        assert len(venue) == report["fills"] > 10
        assert [(f.trade_id, f.price, f.quantity, f.fee, f.tax, f.side) for f in ledger] == \
               [(f.trade_id, f.price, f.quantity, f.fee, f.tax, f.side) for f in venue]
        assert Decimal(str(report["fees_paid"])) == sum((f.fee + f.tax for f in venue), Decimal(0))
        assert Decimal(str(report["turnover"])) == sum((f.price * f.quantity for f in venue), Decimal(0))
        position = replay(venue)["BTCTRY"]
        assert Decimal(str(report["realized_pnl"])) == position.realized_pnl
        balances = {b.asset: b.total for b in result.sim.balances()}
        assert balances["BTC"] == position.quantity == Decimal(str(report["end_position"]))
        orders = result.store.orders(include_external=False)
        for order in orders:
            mine = [f for f in venue if f.exchange_order_id == order.exchange_order_id]
            assert order.filled_quantity == sum((f.quantity for f in mine), Decimal(0))
        assert report["orders"] == len(result.sim.all_orders("BTCTRY", limit=10**6))
    finally:
        result.store.close()
        result.sim.close()


def test_backtest_equity_csv_and_png_are_written(tmp_path: Path) -> None:
    csv_path, png_path = tmp_path / "out" / "equity.csv", tmp_path / "equity.png"
    code, out, err = backtest("--sample", *SLICE, "--every", "5", "--json", "--equity-csv", str(csv_path),
                              "--png", str(png_path))
    assert code == 0, err
    report = json.loads(out)
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "timestamp,equity,cash,base,mark,drawdown_pct"
    assert len(rows) == 1 + 1 + report["cycles"]  # header, the start, one point per cycle
    assert rows[1].split(",")[1] == report["start_equity"] and rows[-1].split(",")[1] == report["end_equity"]
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_backtest_without_matplotlib_draws_a_terminal_chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "plotting_available", lambda: False)
    code, out, err = backtest("--sample", *SLICE, "--png", str(tmp_path / "x.png"))
    assert code == 0
    assert "btcbot[plot]" in err and not (tmp_path / "x.png").exists()
    assert "end_equity" in out and any(ch in out for ch in "▁▂▃▄▅▆▇█")


def test_backtest_of_an_unseen_csv_with_gaps_and_5_minute_candles(tmp_path: Path) -> None:
    candles = make_candles([120000, 120300, 119800, 119500, 120100, 120900, 121000], minutes=5, volume="4")
    del candles[3]  # a gap
    path = tmp_path / "eth.csv"
    path.write_text("".join(format_csv(candles)))
    code, out, err = backtest("--candles", str(path), "--symbol", "ethtry", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["symbol"], report["candles"], report["cycle_seconds"]) == ("ETHTRY", 6, 300)
    assert identity_holds(report)


@pytest.mark.parametrize(("args", "message"), [
    (["--sample", "--stage", "9"], "--stage 9: not available in this build"),
    (["--sample", "--set", "nope=1"], "--set nope: unknown setting"),
    (["--sample", "--set", "min_profit_bps"], "expected KEY=VALUE"),
    (["--sample", "--set", "min_profit_bps=abc"], "BTCBOT_MIN_PROFIT_BPS"),
    (["--sample", "--set", "BTCBOT_ORDER_NOTIONAL_TRY=0"], "BTCBOT_ORDER_NOTIONAL_TRY must be greater than 0"),
    (["--sample", "--set", "exchange=btcturk"], "BTCBOT_EXCHANGE does not apply to backtests"),
    (["--sample", "--symbol", "ETHTRY"], "the sample is BTCTRY"),
    (["--sample", "--from", "2030-01-01"], "no candles between --from and --to"),
    (["--sample", "--from", "soon"], "--from: --from 'soon' is neither epoch seconds nor ISO-8601"),
    (["--sample", "--from", "2025-01-07", "--to", "2025-01-06"], "--to is before --from"),
    ([], "give either --sample or --candles"),
    (["--candles", "missing.csv", "--symbol", "BTCTRY"], "--candles: file missing.csv does not exist"),
    (["--candles", "missing.csv"], "--candles needs --symbol"),
    (["--sample", "--config", "none.toml"], "--config: file none.toml does not exist"),
])
def test_backtest_usage_errors_exit_2_naming_the_problem(args: list[str], message: str) -> None:
    code, out, err = backtest(*args)
    assert code == 2 and message in err and "Traceback" not in err + out


@pytest.mark.parametrize("stage", ["3", "4", "7"])
def test_backtest_stage_runs_when_registered_else_exits_2(stage: str) -> None:
    code, out, err = backtest("--sample", "--to", "2025-01-06T01:00:00Z", "--stage", stage, "--json")
    if stage in STAGES:  # the one registry (bootstrap.STAGES) decides; the lead adds stages 4 and 7 there
        report = json.loads(out)
        assert code == 0 and report["stage"] == stage and identity_holds(report)
    else:
        assert code == 2 and f"--stage {stage}: not available in this build" in err
        error = json.loads(out)  # --json: the failure as data on stdout too (SPEC §0.1)
        assert error["exit_code"] == 2 and f"--stage {stage}" in error["error"]


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty file"),
    ("timestamp,open,high,low,close\n", "line 1: the header must be"),
    ("timestamp,open,high,low,close,volume\n1704067200,1,1,1,1,1\n1704067200,1,1,1,1,1\n", "line 3: timestamp"),
    ("timestamp,open,high,low,close,volume\n1704067200,1,2,1,1,NaN\n", "line 2: volume 'NaN'"),
    ("timestamp,open,high,low,close,volume\n1704067200,5,2,1,1,1\n", "line 2: open and close must lie"),
])
def test_backtest_malformed_csv_exits_2_naming_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(content)
    code, _, err = backtest("--candles", str(path), "--symbol", "BTCTRY")
    assert code == 2
    assert f"{path} line" in err or f"{path}:" in err
    assert message in err


def test_backtest_usdt_pair_converts_try_amounts_at_the_fixed_usdttry_rate(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    closes = [85000 + (i % 7) * 40 - (i % 5) * 30 for i in range(120)]
    path.write_text("".join(format_csv(make_candles(closes, spread="0.0008", volume="2"))))
    code, out, err = backtest("--candles", str(path), "--symbol", "BTCUSDT", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["quote"], report["start_equity"]) == ("USDT", "2000")
    assert report["fills"] > 0 and identity_holds(report)


def test_progress_bar_appears_on_a_terminal_only_after_the_delay() -> None:
    import io

    from rich.console import Console

    from btcbot.cli.backtest_render import LazyBar

    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=80)
    patient = LazyBar("backtest", delay=60, console=terminal)
    patient(1, 10)
    assert patient.progress is None
    eager = LazyBar("backtest", delay=0, console=terminal)
    eager(5, 10)
    eager.close()
    assert eager.progress is not None and "5/10" in screen.getvalue()
    piped = LazyBar("backtest", delay=0, console=Console(file=io.StringIO(), force_terminal=False))
    piped(5, 10)
    assert piped.progress is None  # no bar in logs and pipes
