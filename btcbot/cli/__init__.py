"""The typer app: registers command modules and nothing else (heavy imports stay inside commands)."""

from __future__ import annotations

from typing import Annotated

import typer

from btcbot.cli import backtest, compact, ops, run, sim, stage7

__all__ = ["app", "main"]

app = typer.Typer(
    name="btcbot",
    help="Spot-trading bot for BTCTurk, run from cron: one cycle per invocation. Dry-run by default.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: typer's rich help would import rich.markdown et al. (~50 ms per --help)
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command and sub-command
)


def _version(value: bool) -> None:
    if value:
        from btcbot import __version__

        typer.echo(f"btcbot {__version__}")
        raise typer.Exit(0)


VersionOpt = Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Print the version and exit.")]


@app.callback()
def _root(version: VersionOpt = False) -> None:
    """Spot-trading bot for BTCTurk, run from cron: one cycle per invocation. Dry-run by default."""


run.register(app)
ops.register(app)
sim.register(app)
stage7.register(app)
backtest.register(app)
compact.register(app)


def main() -> None:
    """Console-script entry point: nothing escapes as a traceback (SPEC §0.2)."""
    import sys

    from btcbot.cli.boundary import run_main

    sys.exit(run_main(app, sys.argv[1:]))
