"""Shared CLI plumbing: common options, settings loading, and the one error → exit-code boundary."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from btcbot import testhooks
from btcbot.cli.boundary import fail, private_files, report_bug, silence_stdout, stdout_gone
from btcbot.cli.exit_codes import code_for
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


def settings_from(config: Path | None, state_dir: Path | None, read_only: bool = False, **overrides: Any) -> Any:
    """Load settings (CLI flags win) and set up logging under the state dir.

    Commands that write make the state dir (0700) here; read-only ones (`read_only=True`: status, doctor)
    create nothing, not even the log dir."""
    from btcbot.adapters.state_dir import ensure_private_dir
    from btcbot.config import load_settings
    from btcbot.logsetup import configure_logging

    if testhooks.ARMED:
        testhooks.crash_point("cli:settings")
    settings = load_settings(config, state_dir=state_dir, **overrides)
    if not read_only:
        ensure_private_dir(settings.state_dir)
    configure_logging(settings.state_dir, settings.log_format, create=not read_only)
    return settings


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """The one error boundary of every command: btcbot errors become one line and their exit code, bugs
    exit 1 with the traceback in the log file only; with --json the error is also JSON on stdout."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from btcbot.logsetup import detach_handlers

        as_json = bool(kwargs.get("as_json"))
        detach_handlers()  # nothing of this command is logged to an earlier command's file
        with private_files():
            try:
                return fn(*args, **kwargs)
            except (typer.Exit, typer.Abort, SystemExit):
                raise
            except BrokenPipeError as exc:  # the reader went away (`| head -1`): quiet, exit 0 (SPEC §0.1)
                if not stdout_gone():
                    raise typer.Exit(report_bug(exc, as_json)) from None
                silence_stdout()
                raise typer.Exit(0) from None
            except BtcbotError as exc:
                raise typer.Exit(fail(str(exc), code_for(exc), as_json)) from None
            except BaseException as exc:  # a bug, or an interrupt: never a traceback on stderr
                raise typer.Exit(report_bug(exc, as_json)) from None

    return wrapper


def echo_json(data: object) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
