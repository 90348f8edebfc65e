"""Cycle commands: flags → settings → bootstrap → run_cycle → render → exit code."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from btcbot.cli.common import ConfigOpt, JsonOpt, StateDirOpt, echo_json, guarded, settings_from

__all__ = ["register"]

DryRunOpt = Annotated[
    bool | None,
    typer.Option("--dry-run/--live", help="Override BTCBOT_DRY_RUN. --live still needs every arming gate."),
]
SymbolsOpt = Annotated[str | None, typer.Option("--symbols", help="Comma list of pairs, e.g. BTCTRY,ETHTRY.")]


def _one_cycle(settings: Any, stage_name: str, as_json: bool) -> None:
    """Lock, run one cycle of the registered stage `stage_name` (bootstrap.STAGES), render, exit with its code."""
    from btcbot import bootstrap
    from btcbot.cli.render import cycle_json, render_cycle
    from btcbot.services.cycle import run_cycle

    stage = bootstrap.stage_config(stage_name, settings)
    with bootstrap.open_deps(settings, record_failure_as=stage.name) as deps:
        report = run_cycle(deps, stage)
    if as_json:
        echo_json(cycle_json(report))
    else:
        render_cycle(report)
    raise typer.Exit(report.exit_code)


@guarded
def run(config: ConfigOpt = None, state_dir: StateDirOpt = None, dry_run: DryRunOpt = None,
        symbols: SymbolsOpt = None, as_json: JsonOpt = False) -> None:
    """Run one stage-3 cycle (the cron job): refresh, reconcile, decide, execute, record."""
    _one_cycle(settings_from(config, state_dir, dry_run=dry_run, symbols=symbols), "3", as_json)


@guarded
def stage4_run(config: ConfigOpt = None, state_dir: StateDirOpt = None, dry_run: DryRunOpt = None,
               symbols: SymbolsOpt = None, as_json: JsonOpt = False) -> None:
    """Run one stage-4 cycle: maker orders at the touch managed as a lifecycle (persisted cancel/replace
    chains), sells never below break-even except stop-loss, and drawdown / daily-loss guards that move the
    trading state. Same lock, journal, execution core and exit codes as `run`."""
    _one_cycle(settings_from(config, state_dir, dry_run=dry_run, symbols=symbols), "4", as_json)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("stage4-run")(stage4_run)
