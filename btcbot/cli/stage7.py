"""`btcbot stage7-run`: flags → settings → bootstrap → run_stage7 (run_cycle per stage) → render → exit code."""

from __future__ import annotations

from typing import Annotated

import typer

from btcbot.cli.common import ConfigOpt, JsonOpt, StateDirOpt, echo_json, guarded, settings_from
from btcbot.cli.run import DryRunOpt, SymbolsOpt

__all__ = ["register"]

WithStage4Opt = Annotated[bool, typer.Option("--with-stage4", help="Run a stage-4 cycle first, under the same lock.")]


@guarded
def stage7_run(config: ConfigOpt = None, state_dir: StateDirOpt = None, dry_run: DryRunOpt = None,
               symbols: SymbolsOpt = None, with_stage4: WithStage4Opt = False, as_json: JsonOpt = False) -> None:
    """Run one stage-7 cycle: target allocation, orders through the OMS (one execution core, hard idempotency)."""
    from btcbot.bootstrap import open_deps, stage7_config, stage7_first
    from btcbot.cli.render_stage7 import render_stage7, stage7_json
    from btcbot.services.stage7 import run_stage7

    settings = settings_from(config, state_dir, dry_run=dry_run, symbols=symbols)
    stage, first = stage7_config(settings), stage7_first(settings, with_stage4)
    with open_deps(settings, record_failure_as=stage.name) as deps:
        result = run_stage7(deps, stage, first)
    if as_json:
        echo_json(stage7_json(result))
    else:
        render_stage7(result)
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("stage7-run")(stage7_run)
