"""Tables that fit: borderless, a rule under the header, cells that fold instead of being cut ("…"), a tighter
column gap when the natural width would not fit the console, and, when even that does not fit, one line per row
(`header value · header value ...`, wrapping between values, so a number is never split)."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = ["WIDE", "fit", "plain_table"]

WIDE = 120  # from this console width on, tables add columns that would not fit 80 (client ids, times)


def plain_table(columns: list[tuple[str, str]]) -> Table:
    """`columns` = (header, justify: left/right)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False, padding=(0, 1),
                  collapse_padding=True)
    for header, justify in columns:
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    return table


def fit(console: Console, renderable: RenderableType) -> RenderableType:
    """A table wider than the console gets one-space column gaps; if that is not enough, one line per row."""
    if not isinstance(renderable, Table) or _natural(console, renderable) <= console.width:
        return renderable
    renderable.padding = (0, 0)
    renderable.collapse_padding = False
    if _natural(console, renderable) <= console.width:
        return renderable
    return _stacked(renderable)


def _natural(console: Console, table: Table) -> int:
    unbounded = console.options.update_width(10_000)  # the natural width, not clamped to the console
    return Measurement.get(console, unbounded, table).maximum


def _stacked(table: Table) -> Group:
    columns = [(str(c.header), [str(cell) for cell in c.cells]) for c in table.columns]
    lines = []
    for i in range(table.row_count):
        first = columns[0][1][i]
        rest = " · ".join(f"{header} {cells[i]}" for header, cells in columns[1:])
        line = Text(first, style="bold")
        line.append(f"  {rest}")
        lines.append(line)
    return Group(*lines)
