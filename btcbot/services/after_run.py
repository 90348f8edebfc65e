"""After every cycle command, once its state is committed: the metrics file (under the lock) and the
notification (prepared under the lock, sent after it is released). Best effort: neither can fail or slow the
run beyond the notifier's short timeout; a problem is logged, never raised."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from btcbot import __version__
from btcbot.adapters.notify import Notification
from btcbot.adapters.sqlite.store import Store
from btcbot.adapters.sqlite.views import last_event_id
from btcbot.config import Settings
from btcbot.logsetup import FILE_ONLY

__all__ = ["after_reconcile", "after_run", "deliver", "last_event_id"]

log = logging.getLogger("btcbot.after_run")
T = TypeVar("T")


def after_run(settings: Settings, store: Store, since_event_id: int, now: datetime) -> Notification | None:
    """Write `<state dir>/metrics.prom`; return the run's notification (None: off, or nothing to say)."""
    from btcbot.services.metrics import METRICS_FILENAME, collect_metrics, write_metrics

    def metrics() -> None:
        write_metrics(settings.state_dir / METRICS_FILENAME,
                      collect_metrics(store, settings.exchange, __version__, now))

    _best_effort("metrics file not written", metrics, to_stderr=True)
    if settings.notify_url is None:
        return None
    from btcbot.services.notify import run_notification
    from btcbot.services.status_view import all_rules

    return _best_effort("notification not prepared",
                        lambda: run_notification(store, settings, since_event_id, all_rules(store, now)))


def deliver(settings: Settings, notification: Notification | None) -> None:
    """Send it (one POST, short timeout); a failure is logged to the log file only, without the URL."""
    if notification is None or settings.notify_url is None:
        return
    from btcbot.adapters.notify import send

    url = settings.notify_url.get_secret_value()
    problem = _best_effort("notification not sent", lambda: send(
        notification, settings.notify_kind, url, settings.notify_telegram_chat_id), trace=False)
    if problem:
        log.warning("notification %s", problem, extra={FILE_ONLY: True})


def after_reconcile(settings: Settings, venue: str, differences: list[Any], applied: bool) -> None:
    """`btcbot reconcile` found differences: notify (best effort; its lock is already released)."""
    if not differences or settings.notify_url is None:
        return
    from btcbot.services.notify import differences_notification

    deliver(settings, _best_effort("notification not prepared",
                                   lambda: differences_notification(settings, venue, differences, applied)))


def _best_effort(what: str, fn: Callable[[], T], to_stderr: bool = False, trace: bool = True) -> T | None:
    try:
        return fn()
    except Exception as exc:  # never fails the run; the class name only (a message could hold a secret)
        extra = {} if to_stderr else {FILE_ONLY: True}
        log.warning("%s (%s)", what, type(exc).__name__, exc_info=exc if trace else None, extra=extra)
        return None
