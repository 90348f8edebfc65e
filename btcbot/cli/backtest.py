"""`btcbot backtest`, `backtest sweep` and `backtest fetch`: flags → inputs → one service call → render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from btcbot.cli.common import ConfigOpt, JsonOpt, echo_json, guarded

__all__ = ["backtest_app", "register"]

backtest_app = typer.Typer(name="backtest", invoke_without_command=True, no_args_is_help=False)

SampleOpt = Annotated[bool, typer.Option("--sample", help="Replay the synthetic BTCTRY sample shipped with btcbot.")]
CandlesOpt = Annotated[Path | None, typer.Option("--candles", help="Candle CSV: timestamp,open,high,low,close,volume.")]
SymbolOpt = Annotated[str | None, typer.Option("--symbol", help="The pair of --candles, e.g. BTCTRY or BTCUSDT.")]
StageOpt = Annotated[str, typer.Option("--stage", help="Stage configuration: 3, 4 or 7 (as this build has them).")]
FromOpt = Annotated[str | None, typer.Option("--from", help="First candle (open time; epoch seconds or ISO-8601).")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last candle (inclusive; epoch seconds or ISO-8601).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the fill model's volume draws.")]
EveryOpt = Annotated[int, typer.Option("--every", min=1, help="Run a cycle every N candles (default: each).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a setting: KEY=VALUE (repeatable).")]
CsvOpt = Annotated[Path | None, typer.Option("--equity-csv", help="Write the equity curve as CSV.")]
PngOpt = Annotated[Path | None, typer.Option("--png", help="Write the equity curve as PNG (extra btcbot[plot]).")]


@backtest_app.callback(invoke_without_command=True)
@guarded
def backtest(ctx: typer.Context, sample: SampleOpt = False, candles: CandlesOpt = None, symbol: SymbolOpt = None,
             stage: StageOpt = "3", start: FromOpt = None, end: ToOpt = None, seed: SeedOpt = 42,
             every: EveryOpt = 1, sets: SetOpt = None, as_json: JsonOpt = False, equity_csv: CsvOpt = None,
             png: PngOpt = None, config: ConfigOpt = None) -> None:
    """Replay candles through the same cycle as `btcbot run`, against the simulator; print the report.

    Each candle advances the simulator (resting orders fill when the candle trades through their price, up
    to a share of its volume; see the README's fill model), then a cycle runs at the candle's close. Nothing
    touches the state directory. The same inputs print the same --json, byte for byte (timings go to stderr).
    Subcommands: `fetch` (download candles from BTCTurk), `sweep` (a grid of backtests in parallel)."""
    if ctx.invoked_subcommand is not None:
        return
    from btcbot.backtest.service import backtest_spec
    from btcbot.cli.backtest_render import render_backtest, run_with_progress

    spec = backtest_spec(sample, candles, symbol, stage, start, end, seed, every, sets or [], config)
    render_backtest(run_with_progress(spec), as_json=as_json, equity_csv=equity_csv, png=png)


GridOpt = Annotated[Path, typer.Option("--grid", help="TOML file with a [grid] table: setting = [values, ...].")]
JobsOpt = Annotated[int | None, typer.Option("--jobs", min=1, help="Local worker processes (default: CPUs).")]
DaskOpt = Annotated[str | None, typer.Option("--dask-scheduler", help="Run on a Dask cluster (extra btcbot[dask]).")]
SortOpt = Annotated[str, typer.Option("--sort-by", help="Report key the table is sorted by (largest first).")]


@backtest_app.command("sweep")
@guarded
def sweep(grid: GridOpt, sample: SampleOpt = False, candles: CandlesOpt = None, symbol: SymbolOpt = None,
          stage: StageOpt = "3", start: FromOpt = None, end: ToOpt = None, seed: SeedOpt = 42, every: EveryOpt = 1,
          sets: SetOpt = None, jobs: JobsOpt = None, dask_scheduler: DaskOpt = None, sort_by: SortOpt = "end_equity",
          as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Run one backtest per point of a parameter grid, on local processes or a Dask cluster.

    The grid file maps setting names to lists of values, e.g. `[grid]` / `min_profit_bps = ["30", "50"]` /
    `order_notional_try = ["150", "250"]`: one backtest per combination. Every point is validated first
    (exit 2 names the bad one). Without --candles the sweep replays the sample. --json prints
    [{"params": {...}, "report": {...}}] in grid order."""
    from btcbot.backtest.service import backtest_spec
    from btcbot.backtest.sweep import load_grid, run_sweep
    from btcbot.cli.backtest_render import render_sweep, sweep_progress

    use_sample = sample or candles is None  # SPEC §0.1 writes `sweep --grid PATH`: the sample by default
    base = backtest_spec(use_sample, candles, symbol, stage, start, end, seed, every, sets or [], config)
    points = load_grid(grid, base.settings, sort_by)
    with sweep_progress(len(points)) as progress:
        results = run_sweep(base, points, jobs=jobs, scheduler=dask_scheduler, progress=progress)
    if as_json:
        echo_json(results)
    else:
        render_sweep(results, sort_by)


OutOpt = Annotated[Path, typer.Option("--out", help="The CSV file to write.")]
FetchSymbolOpt = Annotated[str, typer.Option("--symbol", help="Pair, e.g. BTCTRY.")]
FetchFromOpt = Annotated[str, typer.Option("--from", help="Start (epoch seconds or ISO-8601, UTC).")]
FetchToOpt = Annotated[str, typer.Option("--to", help="End, exclusive (epoch seconds or ISO-8601, UTC).")]
ResolutionOpt = Annotated[int, typer.Option("--resolution", min=1, help="Candle length in minutes.")]


@backtest_app.command("fetch")
@guarded
def fetch(symbol: FetchSymbolOpt, start: FetchFromOpt, end: FetchToOpt, out: OutOpt, resolution: ResolutionOpt = 1,
          config: ConfigOpt = None) -> None:
    """Download candles from BTCTurk's graph API (klines, BTCTURK_GRAPH_URL) into the candle CSV format.

    Pages through long ranges, rate limited, reads retried; no keys needed. `btcbot sim serve` answers the
    same endpoint from its simulated market."""
    from btcbot.backtest.fetch import fetch_to_csv
    from btcbot.cli.backtest_render import render_fetch

    render_fetch(fetch_to_csv(symbol, start, end, out, resolution, config), out)


def register(app: typer.Typer) -> None:
    app.add_typer(backtest_app, name="backtest")
