"""Inspection and maintenance commands: flags → one service call → render."""

from __future__ import annotations

from typing import Annotated

import typer

from btcbot.cli.common import ConfigOpt, JsonOpt, StateDirOpt, echo_json, guarded, settings_from

__all__ = ["register"]

FillsOpt = Annotated[int, typer.Option("--fills", min=0, help="Also show the last N fills.")]


@guarded
def status(config: ConfigOpt = None, state_dir: StateDirOpt = None, as_json: JsonOpt = False,
           fills: FillsOpt = 0) -> None:
    """Show mode, last cycle, orders, positions, PnL and locks from SQLite only (no network, no keys)."""
    from btcbot.cli.render import render_status
    from btcbot.services.status import collect_status

    settings = settings_from(config, state_dir)
    data = collect_status(settings, fills=fills)
    if as_json:
        echo_json(data)
    else:
        render_status(data)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
