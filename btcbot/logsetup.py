"""Logging: a rotating file under the state dir plus stderr, text or JSON (R-OBS). Secrets never reach
here: settings hold them as SecretStr and nothing logs request headers.

stderr gets one line per record and never a traceback (cron mails stderr; SPEC §0.2): tracebacks go to the
file only. Log files are created 0600 and the log dir 0700 (R-SAFE-4); read-only commands (`create=False`)
never create the log dir and open the file only if they have something to say.
"""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
import os
from pathlib import Path

from btcbot.domain.errors import StateError

__all__ = ["FILE_ONLY", "LOG_FILENAME", "configure_logging", "detach_handlers", "log_file"]

LOG_FILENAME = "btcbot.log"
FILE_ONLY = "btcbot_file_only"  # `extra={FILE_ONLY: True}`: a record for the log file, not stderr
_ROOT = "btcbot"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data)


class _OneLine(logging.Formatter):
    """The wrapped formatter's output for a copy of the record without exception or stack, on one line."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        bare = logging.makeLogRecord(record.__dict__)
        bare.exc_info, bare.exc_text, bare.stack_info = None, None, None
        return " ".join(self.inner.format(bare).split("\n"))


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, FILE_ONLY, False) and super().filter(record)

    def handleError(self, record: logging.LogRecord) -> None:  # never a "--- Logging error ---" traceback
        pass


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """Opens (and, after a rotation, re-creates) the log file 0600."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, "a", encoding=self.encoding)

    def handleError(self, record: logging.LogRecord) -> None:  # a full disk must not print tracebacks
        pass


def detach_handlers() -> None:
    """Remove (and close) btcbot's handlers: nothing is logged to a previous command's state dir."""
    root = logging.getLogger(_ROOT)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()


def log_file() -> Path | None:
    """The file btcbot's logger writes to now, if any."""
    for handler in logging.getLogger(_ROOT).handlers:
        if isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename)
    return None


def configure_logging(state_dir: Path | None, fmt: str = "text", verbose: bool = False,
                      create: bool = True) -> Path | None:
    """Route btcbot's loggers to `<state_dir>/logs/btcbot.log` (rotating) and warnings to stderr.

    With `create=False` (read-only commands) the file is used only when the log dir already exists."""
    detach_handlers()
    root = logging.getLogger(_ROOT)
    root.setLevel(logging.DEBUG)
    root.propagate = False
    formatter: logging.Formatter = (
        _JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    stderr = _Stderr()
    stderr.setLevel(logging.INFO if verbose else logging.WARNING)
    stderr.setFormatter(_OneLine(formatter))
    root.addHandler(stderr)
    if state_dir is None:
        return None
    log_dir = state_dir / "logs"
    if not create and not log_dir.is_dir():
        return None
    path = log_dir / LOG_FILENAME
    try:
        if create:
            from btcbot.adapters.state_dir import ensure_private_dir

            ensure_private_dir(log_dir)
        file_handler = _PrivateRotatingFile(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8",
                                            delay=not create)
    except OSError as exc:
        raise StateError(f"log file {path}: {exc.strerror or exc}; fix the state dir's permissions or "
                         "point --state-dir elsewhere") from None
    file_handler.setLevel(logging.DEBUG)
    file_handler.setFormatter(formatter)
    root.addHandler(file_handler)
    return path
