"""Crash points for tests (R-REL-2). Inert unless one of these is set in the environment of the process:

    BTCBOT_TEST_CRASH_AT=NAME[#N]  the N-th time (default 1) the process passes point NAME, end it at once
                                   with SIGKILL: no `finally`, no atexit, no flush, no lock release
    BTCBOT_TEST_CRASH_MODE=raise   raise CrashPointReached there instead (an internal error: exit 1);
                         =interrupt raise KeyboardInterrupt (an operator's Ctrl-C)
    BTCBOT_TEST_CRASH_LIST=PATH    append every point passed to PATH, one `NAME#N` a line (discovery)

Points sit at the few choke points where durable state changes: `Database.atomic()` (a top-level store
transaction, `tx:<Store method>:before|after`) and the BTCTurk client's request path (`http:<endpoint>:
before|after`, around the send). Callers test `ARMED` first, so an unset hook costs one global lookup and
builds no name.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import Counter
from typing import Final

__all__ = ["ARMED", "CrashPointReached", "crash_point", "tx_name"]

_AT: Final = os.environ.get("BTCBOT_TEST_CRASH_AT", "")
_MODE: Final = os.environ.get("BTCBOT_TEST_CRASH_MODE", "kill")
_LIST: Final = os.environ.get("BTCBOT_TEST_CRASH_LIST", "")
ARMED: Final = bool(_AT or _LIST)

_lock = threading.Lock()
_seen: Counter[str] = Counter()


class CrashPointReached(RuntimeError):
    """Raised at the armed point when BTCBOT_TEST_CRASH_MODE=raise."""


def _parse_target(spec: str) -> tuple[str, int]:
    name, sep, count = spec.rpartition("#")
    return (name, int(count)) if sep and count.isdigit() else (spec, 1)


_TARGET: Final = _parse_target(_AT)


def crash_point(name: str) -> None:
    """Count a pass through `name`; list it, and end the process if it is the armed occurrence."""
    if not ARMED:
        return
    with _lock:
        _seen[name] += 1
        occurrence = _seen[name]
        if _LIST:
            with open(_LIST, "a", encoding="utf-8") as out:
                out.write(f"{name}#{occurrence}\n")
    if (name, occurrence) != _TARGET:
        return
    if _MODE == "raise":
        raise CrashPointReached(f"test crash point {name}#{occurrence}")
    if _MODE == "interrupt":
        raise KeyboardInterrupt
    os.kill(os.getpid(), signal.SIGKILL)


def tx_name(stage: str) -> str:
    """`tx:<function that opened the transaction>:<stage>`, read from the caller's frames (armed only)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and (
        frame.f_code.co_filename.endswith(("contextlib.py", "db.py", "testhooks.py"))
    ):
        frame = frame.f_back
    return f"tx:{frame.f_code.co_qualname}:{stage}"
