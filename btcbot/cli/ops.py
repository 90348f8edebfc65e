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


ApplyOpt = Annotated[bool, typer.Option("--apply", help="Fix the differences (each fix is an event).")]


@guarded
def reconcile(config: ConfigOpt = None, state_dir: StateDirOpt = None, apply: ApplyOpt = False,
              as_json: JsonOpt = False) -> None:
    """Compare local orders, fills and balances with the exchange; show the differences; fix with --apply.

    Exit 0 when clean (or everything was fixed), 4 when differences remain unapplied, 75 when locked."""
    from btcbot.bootstrap import open_deps, search_budget
    from btcbot.cli.render import recovery_json, render_recovery
    from btcbot.services.recovery import run_reconcile

    settings = settings_from(config, state_dir)
    with open_deps(settings) as deps:
        report = run_reconcile(deps, apply, search_budget(settings))
    if as_json:
        echo_json(recovery_json(report))
    else:
        render_recovery(report)
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("reconcile")(reconcile)
