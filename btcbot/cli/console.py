"""The rich consoles of btcbot's output: a closed pipe (`btcbot status | head -1`) silences the rest of the
output instead of exiting 1 (rich's default), so the command ends quietly with its own exit code."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from btcbot.cli.boundary import silence_stdout

__all__ = ["make_console"]


class _PipeSafeConsole(Console):
    def on_broken_pipe(self) -> None:
        self.quiet = True  # what is still printed is dropped
        if not self.stderr:
            silence_stdout()


def make_console(**options: Any) -> Console:
    """A rich Console (no highlighting of numbers) that survives a closed pipe."""
    return _PipeSafeConsole(highlight=False, **options)
