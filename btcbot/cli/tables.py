"""Tables that fit: borderless, a rule under the header, cells that fold instead of being cut ("…"), and a
tighter column gap when the natural width would not fit the console."""

from __future__ import annotations

from rich import box
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table

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
    """A table wider than the console gets one-space column gaps (before rich would have to fold cells)."""
    unbounded = console.options.update_width(10_000)  # the table's natural width, not clamped to the console
    if isinstance(renderable, Table) and Measurement.get(console, unbounded, renderable).maximum > console.width:
        renderable.padding = (0, 0)
        renderable.collapse_padding = False
    return renderable
