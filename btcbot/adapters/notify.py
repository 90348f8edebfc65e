"""Outgoing notifications over HTTP: a generic JSON webhook, or Telegram's Bot API (`sendMessage`).

One POST per run, short timeouts, never raises: the result is None (delivered) or a short reason that never
contains the URL (it holds a token: the webhook's secret path or the bot token).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TIMEOUT_SECONDS", "Notification", "send"]

TIMEOUT_SECONDS = 3.0  # connect, write and read each: a dead endpoint never holds a cron run for long
_TELEGRAM_LIMIT = 4096  # characters of one Telegram message


@dataclass(frozen=True, slots=True)
class Notification:
    text: str  # one line per fact, for people (Slack/Mattermost webhooks show `text` as is)
    events: list[dict[str, Any]] = field(default_factory=list)  # the journal's events behind the text
    context: dict[str, str] = field(default_factory=dict)  # exchange, venue, version


def send(notification: Notification, kind: str, url: str, chat_id: str | None = None,
         transport: Any = None) -> str | None:
    """POST the notification; None when the endpoint accepted it (2xx), else why not (without the URL)."""
    import httpx

    if kind == "telegram":
        target = url if url.rstrip("/").endswith("/sendMessage") else url.rstrip("/") + "/sendMessage"
        body: dict[str, Any] = {"chat_id": chat_id, "text": notification.text[:_TELEGRAM_LIMIT],
                                "disable_web_page_preview": True}
    else:
        target = url
        body = {"text": notification.text, "source": "btcbot", **notification.context,
                "events": notification.events}
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport, follow_redirects=False) as client:
            reply = client.post(target, json=body)
    except httpx.HTTPError as exc:
        return f"not delivered ({type(exc).__name__})"
    except Exception as exc:  # e.g. a URL httpx cannot use: never raise, never echo the URL
        return f"not delivered ({type(exc).__name__})"
    if 200 <= reply.status_code < 300:
        return None
    return f"not delivered (HTTP {reply.status_code})"
