"""The equity curve of a backtest as CSV, as a PNG (matplotlib, the optional extra `btcbot[plot]`) or as a
chart of text for the terminal.

The CSV holds exact decimal strings: `timestamp,equity,cash,base,mark,drawdown_pct`. The PNG is a picture:
matplotlib plots floats, converted here at the last moment, for display only.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from btcbot.backtest.report import EquityPoint
from btcbot.domain.accounting import drawdown_pct, next_peak
from btcbot.domain.errors import ConfigError
from btcbot.domain.money import dec_str, quantize_scale

__all__ = ["CSV_HEADER", "curve_csv", "plotting_available", "terminal_chart", "write_csv", "write_png", "write_text"]

CSV_HEADER = "timestamp,equity,cash,base,mark,drawdown_pct"
_BLOCKS = " ▁▂▃▄▅▆▇█"


def curve_csv(curve: Sequence[EquityPoint]) -> str:
    lines = [CSV_HEADER]
    peak: Decimal | None = None
    for point in curve:
        equity = point.equity
        peak = next_peak(peak, equity)
        drawdown = quantize_scale(drawdown_pct(equity, peak), 6, ROUND_HALF_EVEN)
        stamp = point.at.isoformat().replace("+00:00", "Z")
        lines.append(",".join((stamp, dec_str(equity), dec_str(point.cash), dec_str(point.base),
                               dec_str(point.mark), dec_str(drawdown))))
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same directory, then rename: a reader never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # an ordinary output file, not mkstemp's 0600
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) atomically; an unwritable path is a ConfigError naming it."""
    _atomic_write(path, text.encode("utf-8"))


def write_csv(curve: Sequence[EquityPoint], path: Path) -> None:
    write_text(path, curve_csv(curve))


def plotting_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def write_png(curve: Sequence[EquityPoint], path: Path, title: str) -> None:
    """Equity and drawdown as a PNG (needs matplotlib: `pip install 'btcbot[plot]'`)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [p.at for p in curve]
    equity = [float(p.equity) for p in curve]  # display only
    peak, drawdowns = 0.0, []
    for value in equity:
        peak = max(peak, value)
        drawdowns.append(-(peak - value) / peak * 100 if peak > 0 else 0.0)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=(3, 1))
    top.plot(times, equity, color="tab:blue", linewidth=1)
    top.set_title(title)
    top.set_ylabel("equity")
    top.grid(alpha=0.3)
    bottom.fill_between(times, drawdowns, 0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    _atomic_write(path, buffer.getvalue())


def terminal_chart(curve: Sequence[EquityPoint], width: int = 64, height: int = 8) -> list[str]:
    """The equity curve as `height` lines of block characters, `width` columns (each the column's last point),
    with the top and bottom values on the right."""
    if not curve:
        return []
    columns = [curve[min(len(curve) - 1, (i + 1) * len(curve) // width - 1)].equity for i in range(width)]
    columns = columns if len(curve) >= width else [p.equity for p in curve]
    low, high = min(columns), max(columns)
    span = high - low
    levels = [int((v - low) * (height * 8 - 1) / span) if span else 0 for v in columns]  # eighths of a row
    rows = []
    for row in range(height - 1, -1, -1):
        cells = "".join(_BLOCKS[max(0, min(8, level + 1 - row * 8))] for level in levels)
        label = f" {high:.2f}" if row == height - 1 else (f" {low:.2f}" if row == 0 else "")
        rows.append(cells + label)
    return rows
