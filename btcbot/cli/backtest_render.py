"""Rendering of backtests, sweeps and fetches: rich tables on stdout; progress, timings and notes on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from btcbot.backtest.runner import BacktestResult, BacktestSpec, run_backtest
from btcbot.cli.common import echo_json
from btcbot.cli.console import make_console

__all__ = ["render_backtest", "render_fetch", "render_sweep", "run_with_progress", "sweep_progress"]

console = make_console()
err = make_console(stderr=True)

_MONEY = ("start_equity", "end_equity", "realized_pnl", "unrealized_pnl", "fees_paid", "turnover")
_INPUTS = ("symbol", "stage", "from", "to", "seed", "candles", "cycle_seconds")


class LazyBar:
    """A rich progress bar on stderr that appears only once the work has taken more than a second (and only on a
    terminal). Call it with (done, total)."""

    def __init__(self, description: str, delay: float = 1.0, console: Console | None = None) -> None:
        self.description = description
        self.delay = delay
        self.console = console or err
        self.started = time.perf_counter()
        self.progress: Progress | None = None
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            if time.perf_counter() - self.started < self.delay or not self.console.is_terminal:
                return
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=total)
        self.progress.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def run_with_progress(spec: BacktestSpec) -> tuple[BacktestResult, float]:
    bar = LazyBar(f"backtest {spec.symbol}")
    started = time.perf_counter()
    try:
        result = run_backtest(spec, bar)
    finally:
        bar.close()
    return result, time.perf_counter() - started


def _note(text: str) -> None:
    """One line for the user on stderr (never markup: paths and extras contain brackets)."""
    err.print(text, markup=False, soft_wrap=True)


def _money(value: object) -> str:
    return f"{Decimal(str(value)).quantize(Decimal('0.01'), ROUND_HALF_EVEN):,}"


def report_table(report: dict[str, object]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False, title="backtest report", title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    quote = str(report.get("quote", ""))
    for key in _INPUTS:
        table.add_row(key, str(report[key]))
    for key, value in dict(report.get("settings", {}) or {}).items():  # type: ignore[call-overload]
        table.add_row(f"--set {key}", str(value))
    for key, value in report.items():
        if key in _INPUTS or key in ("settings", "quote", "data_sha256"):
            continue
        shown = f"{_money(value)} {quote}" if key in _MONEY else str(value)
        table.add_row(key, shown + (" %" if key.endswith("_pct") else ""))
    return table


def render_backtest(outcome: tuple[BacktestResult, float], *, as_json: bool, equity_csv: Path | None,
                    png: Path | None) -> None:
    from btcbot.backtest.charts import plotting_available, terminal_chart, write_csv, write_png

    result, elapsed = outcome
    report = result.report
    if as_json:
        echo_json(report)
    else:
        console.print(report_table(report))
    if equity_csv is not None:
        write_csv(result.curve, equity_csv)
        _note(f"equity curve: {equity_csv}")
    chart = not as_json and png is None
    if png is not None and plotting_available():
        write_png(result.curve, png, f"{report['symbol']} stage {report['stage']} · equity ({report['quote']})")
        _note(f"equity chart: {png}")
    elif png is not None:
        _note("matplotlib is not installed (pip install 'btcbot[plot]'): no PNG written; terminal chart below")
        chart = True
    if chart:
        out = err if as_json else console
        out.print("equity", markup=False)
        for line in terminal_chart(result.curve):
            out.print(line, markup=False, soft_wrap=True)
    cycles = int(str(report["cycles"]))
    _note(f"backtest: {report['candles']} candles, {cycles} cycles in {elapsed:.1f} s "
          f"({cycles / max(elapsed, 1e-9):.0f} cycles/s)")


@contextmanager
def sweep_progress(total: int) -> Iterator[Callable[[int, int], None]]:
    bar = LazyBar(f"sweep of {total} backtests")
    try:
        yield bar
    finally:
        bar.close()


def render_sweep(results: Sequence[dict[str, Any]], sort_by: str) -> None:
    ranked = sorted(enumerate(results), key=lambda p: (-Decimal(str(p[1]["report"][sort_by])), p[0]))
    params = list(results[0]["params"]) if results else []
    columns = ["end_equity", "realized_pnl", "fees_paid", "max_drawdown_pct", "fills", "fill_ratio"]
    if sort_by not in columns:
        columns.insert(0, sort_by)
    table = Table(title=f"sweep: {len(results)} backtests, by {sort_by}", title_justify="left", header_style="bold")
    for name in ["#", *params, *columns]:
        table.add_column(name, justify="right" if name not in params else "left")
    for rank, (_, item) in enumerate(ranked, 1):
        values = [_money(item["report"][c]) if c in _MONEY else str(item["report"][c]) for c in columns]
        table.add_row(str(rank), *(str(item["params"][p]) for p in params), *values)
    console.print(table)


def render_fetch(summary: tuple[int, int], out: Path) -> None:
    candles, requests = summary
    sys.stdout.write(f"{candles} candles written to {out} ({requests} requests)\n")

