"""The CLI's last word on failure (SPEC §0.1, §0.2).

- Exactly one line on stderr for every failure; a bug (exit 1) keeps its traceback in the log file only (or,
  before logging knows the state dir, in a private temp file the line names).
- With `--json`, `{"error": "...", "exit_code": N}` on stdout as well (the human line stays on stderr).
- Files and directories made while a command runs are private (umask 077: 0700 / 0600, R-SAFE-4).
- A closed pipe (`btcbot status | head -1`) ends quietly: the rest of the output goes nowhere, no error line,
  and the command's exit code stands (0 unless the command had already decided otherwise).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer

from btcbot.cli.exit_codes import BUG
from btcbot.domain.errors import describe

__all__ = ["fail", "private_files", "quiet_pipe", "report_bug", "run_main", "silence_stdout", "stdout_gone"]


def fail(message: str, code: int, as_json: bool) -> int:
    """Print the one-line message (and the JSON error with --json); return `code`."""
    line = " ".join(message.split())
    if as_json:
        typer.echo(json.dumps({"error": line, "exit_code": code}))
    typer.echo(f"btcbot: {line}", err=True)
    return code


def report_bug(exc: BaseException, as_json: bool) -> int:
    """Exit 1: the traceback goes to the log file (never stderr), one line says where."""
    where = _keep_traceback(exc)
    what = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"internal error ({type(exc).__name__})"
    return fail(f"{what}; traceback in {where}", BUG, as_json)


def _keep_traceback(exc: BaseException) -> str:
    import logging  # here, not at import: `btcbot --help` stays fast
    import tempfile
    import traceback

    from btcbot.logsetup import FILE_ONLY, log_file

    path = log_file()
    if path is not None:
        logging.getLogger("btcbot").error("unexpected error: %s", describe(exc), exc_info=exc,
                                          extra={FILE_ONLY: True})
        return str(path)
    try:  # no log file yet (settings or the state dir failed first): a private temp file
        fd, name = tempfile.mkstemp(prefix="btcbot-traceback-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            traceback.print_exception(exc, file=out)
    except OSError:
        return "nowhere (no writable log file)"
    return name


def stdout_gone() -> bool:
    """Whether our stdout is a pipe whose reader went away (so a BrokenPipeError came from it, not a socket)."""
    try:
        import select

        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
    except (OSError, ValueError, AttributeError):  # not a real file descriptor: the error can only be ours
        return True


def silence_stdout() -> None:
    """The reader went away: send whatever is still to be written (buffered too) to /dev/null, so neither the
    rest of the command nor the interpreter's final flush fails on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (tests' captured output): nothing to do
        pass


@contextmanager
def quiet_pipe() -> Iterator[None]:
    """Around a command's output: a closed pipe ends the output quietly and the command goes on (to its exit
    code)."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        if not stdout_gone():
            raise
        silence_stdout()


@contextmanager
def private_files() -> Iterator[None]:
    """Create everything 0700/0600 while the block runs (state dir, DBs and their WAL, lock, logs)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def run_main(app: Any, args: Sequence[str]) -> int:
    """Run the typer app as the console script; nothing escapes as a traceback on stderr."""
    from typer import Abort
    from typer._click.exceptions import ClickException

    as_json = "--json" in args
    try:
        with private_files():
            result = app(args=list(args), standalone_mode=False)
        sys.stdout.flush()
    except BrokenPipeError as exc:  # the reader of our stdout went away (`| head`): not an error
        if not stdout_gone():
            return report_bug(exc, as_json)
        silence_stdout()
        return 0
    except SystemExit as exc:  # typer's own output (--help) on a closed pipe exits 1: click's echo on EPIPE,
        if exc.code == 1 and (_stdout_is_devnull() or stdout_gone()):  # a rich console after using /dev/null
            silence_stdout()
            return 0
        raise
    except ClickException as exc:  # usage errors: typer's own message, plus the JSON error
        _show_usage_error(exc)
        if as_json:
            typer.echo(json.dumps({"error": " ".join(exc.format_message().split()), "exit_code": exc.exit_code}))
        return exc.exit_code
    except Abort:
        return fail("aborted", BUG, as_json)
    except KeyboardInterrupt as exc:
        return report_bug(exc, as_json)
    except Exception as exc:  # outside any command's guard (typer internals, an import inside a command)
        return report_bug(exc, as_json)
    return result if isinstance(result, int) else 0


def _stdout_is_devnull() -> bool:
    try:
        here, null = os.fstat(sys.stdout.fileno()), os.stat(os.devnull)
    except (OSError, ValueError, AttributeError):
        return False
    return (here.st_dev, here.st_ino) == (null.st_dev, null.st_ino)


def _show_usage_error(exc: Any) -> None:
    try:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
    except Exception:  # typer without rich: click's plain rendering
        exc.show()
