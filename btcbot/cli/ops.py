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
    from btcbot.cli.render_status import render_status
    from btcbot.services.status import collect_status

    settings = settings_from(config, state_dir, read_only=True)
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
    from btcbot.services.after_run import after_reconcile
    from btcbot.services.recovery import run_reconcile

    settings = settings_from(config, state_dir)
    with open_deps(settings) as deps:
        report = run_reconcile(deps, apply, search_budget(settings))
    after_reconcile(settings, deps.mode.venue, report.differences, report.applied)
    if as_json:
        echo_json(recovery_json(report))
    else:
        render_recovery(report)
    raise typer.Exit(report.exit_code)


@guarded
def doctor(config: ConfigOpt = None, state_dir: StateDirOpt = None, as_json: JsonOpt = False) -> None:
    """Check config, keys (signed balances request), clock skew, DB integrity and the lock; never trades
    and creates nothing.

    Exit 0 when every check passes, 4 when one fails, 2 when there is no state at the state dir."""
    from datetime import UTC, datetime

    from btcbot.cli.render import render_checks
    from btcbot.services.doctor import doctor_exit_code, run_doctor

    settings = settings_from(config, state_dir, read_only=True)
    checks = run_doctor(settings, datetime.now(UTC))
    code = doctor_exit_code(checks)
    missing = [c.detail for c in checks if not c.ok and c.exit_code == 2]
    failed = missing or [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    if as_json:
        data = {"checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
                "ok": code == 0, "exit_code": code}
        echo_json({**data, "error": failed[0]} if failed else data)
    else:
        render_checks(checks)
    if missing:
        typer.echo(f"btcbot: {missing[0]}", err=True)
    raise typer.Exit(code)


ReduceOnlyOpt = Annotated[bool, typer.Option("--reduce-only", help="Allow sells and cancels (REDUCE_ONLY).")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded in the event).")]


def _set_state(config: object, state_dir: object, state: str, reason: str) -> None:
    from datetime import UTC, datetime

    from btcbot.bootstrap import open_journal
    from btcbot.domain.models import TradingState

    settings = settings_from(config, state_dir)  # type: ignore[arg-type]
    store = open_journal(settings, datetime.now(UTC))
    try:
        changed = store.set_trading_state(TradingState(state), reason, None, datetime.now(UTC))
    finally:
        store.close()
    typer.echo(f"trading state {'set to' if changed else 'already'} {state}")


@guarded
def halt(config: ConfigOpt = None, state_dir: StateDirOpt = None, reduce_only: ReduceOnlyOpt = False,
         reason: ReasonOpt = "operator") -> None:
    """Stop new submits (HALTED; cancels still run) or only buys (--reduce-only). Persists across runs."""
    _set_state(config, state_dir, "REDUCE_ONLY" if reduce_only else "HALTED", f"HALT_BY_OPERATOR: {reason}")


ForceOpt = Annotated[bool, typer.Option("--force", help="Resume although a drawdown or daily-loss breach still "
                                                       "holds (recorded as an event; re-baselines the rule).")]


@guarded
def resume(config: ConfigOpt = None, state_dir: StateDirOpt = None, reason: ReasonOpt = "operator",
           force: ForceOpt = False) -> None:
    """Return the persisted trading state to NORMAL after investigating why it changed.

    Refused (exit 2) while a stage-4 drawdown or daily-loss breach still holds, unless --force."""
    from datetime import UTC, datetime

    from btcbot.bootstrap import guard_params, open_journal
    from btcbot.services.guards import resume_trading

    settings = settings_from(config, state_dir)
    store = open_journal(settings, datetime.now(UTC))
    try:
        outcome = resume_trading(store, guard_params(settings), force, reason, datetime.now(UTC))
    finally:
        store.close()
    typer.echo(outcome.message)


def register(app: typer.Typer) -> None:
    app.command("halt")(halt)
    app.command("resume")(resume)
    app.command("status")(status)
    app.command("reconcile")(reconcile)
    app.command("doctor")(doctor)
