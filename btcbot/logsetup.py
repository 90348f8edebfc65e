"""Logging: a rotating file under the state dir plus stderr, text or JSON (R-OBS). Secrets never reach
here: settings hold them as SecretStr and nothing logs request headers."""

from __future__ import annotations

import json
import logging
import logging.handlers
from pathlib import Path

__all__ = ["LOG_FILENAME", "configure_logging"]

LOG_FILENAME = "btcbot.log"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data)


def configure_logging(state_dir: Path | None, fmt: str = "text", verbose: bool = False) -> Path | None:
    """Route btcbot's loggers to `<state_dir>/logs/btcbot.log` (rotating) and warnings to stderr."""
    root = logging.getLogger("btcbot")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG)
    root.propagate = False
    formatter: logging.Formatter = (
        _JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.INFO if verbose else logging.WARNING)
    stderr.setFormatter(formatter)
    root.addHandler(stderr)
    if state_dir is None:
        return None
    log_dir = state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = log_dir / LOG_FILENAME
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8")
    file_handler.setLevel(logging.DEBUG)
    file_handler.setFormatter(formatter)
    root.addHandler(file_handler)
    return path
