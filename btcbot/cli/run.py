"""Cycle commands: flags → settings → bootstrap → run_cycle → render → exit code."""

from __future__ import annotations

from typing import Annotated

import typer

from btcbot.cli.common import ConfigOpt, JsonOpt, StateDirOpt, echo_json, guarded, settings_from

__all__ = ["register"]

DryRunOpt = Annotated[
    bool | None,
    typer.Option("--dry-run/--live", help="Override BTCBOT_DRY_RUN. --live still needs every arming gate."),
]
SymbolsOpt = Annotated[str | None, typer.Option("--symbols", help="Comma list of pairs, e.g. BTCTRY,ETHTRY.")]


@guarded
def run(config: ConfigOpt = None, state_dir: StateDirOpt = None, dry_run: DryRunOpt = None,
        symbols: SymbolsOpt = None, as_json: JsonOpt = False) -> None:
    """Run one stage-3 cycle (the cron job): refresh, reconcile, decide, execute, record."""
    from btcbot.bootstrap import open_deps, stage3_config
    from btcbot.cli.render import cycle_json, render_cycle
    from btcbot.services.cycle import run_cycle

    settings = settings_from(config, state_dir, dry_run=dry_run, symbols=symbols)
    stage = stage3_config(settings)
    with open_deps(settings, record_failure_as=stage.name) as deps:
        report = run_cycle(deps, stage)
    if as_json:
        echo_json(cycle_json(report))
    else:
        render_cycle(report)
    raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
