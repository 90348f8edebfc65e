"""Exit codes (SPEC §0.2) and the one mapping from error classes to them."""

from __future__ import annotations

from btcbot.domain.errors import (
    AuthFailed,
    BreakerOpen,
    BtcbotError,
    ConfigError,
    ExchangeError,
    LockBusy,
    StateError,
)

__all__ = ["ABORTED", "BUG", "DIFFERENCES", "LOCKED", "OK", "USAGE", "code_for"]

OK = 0
BUG = 1
USAGE = 2
ABORTED = 3
DIFFERENCES = 4
LOCKED = 75

_CODES: tuple[tuple[type[BtcbotError], int], ...] = (
    (ConfigError, USAGE),
    (StateError, USAGE),
    (LockBusy, LOCKED),
    (AuthFailed, ABORTED),
    (BreakerOpen, ABORTED),
    (ExchangeError, ABORTED),
)


def code_for(error: BaseException) -> int:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return BUG
