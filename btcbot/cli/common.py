"""Shared CLI plumbing: common options, settings loading, and the one error → exit-code boundary."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from btcbot.cli.exit_codes import BUG, code_for
from btcbot.domain.errors import BtcbotError

__all__ = ["ConfigOpt", "JsonOpt", "StateDirOpt", "guarded", "settings_from"]

P = ParamSpec("P")
R = TypeVar("R")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (default: config/btcbot.toml if present).")
]
StateDirOpt = Annotated[
    Path | None, typer.Option("--state-dir", help="Directory for the database, lock, logs and simulator state.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]


def settings_from(config: Path | None, state_dir: Path | None, **overrides: Any) -> Any:
    """Load settings (CLI flags win) and set up logging under the state dir."""
    from btcbot.config import load_settings
    from btcbot.logsetup import configure_logging

    settings = load_settings(config, state_dir=state_dir, **overrides)
    configure_logging(settings.state_dir, settings.log_format)
    return settings


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn btcbot errors into a one-line message and their exit code; bugs into exit 1 with the
    traceback in the log file only."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BtcbotError as exc:
            typer.echo(f"btcbot: {exc}", err=True)
            raise typer.Exit(code_for(exc)) from None
        except Exception as exc:
            logging.getLogger("btcbot").error("unexpected error", exc_info=True)
            where = _log_hint()
            typer.echo(f"btcbot: internal error ({type(exc).__name__}); {where}", err=True)
            raise typer.Exit(BUG) from None

    return wrapper


def _log_hint() -> str:
    for handler in logging.getLogger("btcbot").handlers:
        name = getattr(handler, "baseFilename", None)
        if name:
            return f"traceback in {name}"
    return "run again with a writable --state-dir to keep the traceback"


def echo_json(data: object) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
