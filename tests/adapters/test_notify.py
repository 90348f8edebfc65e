"""The HTTP notifier (adapters/notify.py) against respx with strict defaults: one POST, the right shape for a
generic webhook and for Telegram, never raises, never echoes the URL (it holds a token)."""

from __future__ import annotations

import json

import httpx
import respx

from btcbot.adapters.notify import TIMEOUT_SECONDS, Notification, send

HOOK = "https://hooks.example.test/services/T0KEN-5ecret"
BOT = "https://api.telegram.org/bot123456:AAH-s3cret-token"
NOTE = Notification(text="btcbot on sim (sim)\n• fill BTCTRY buy 0.0001 BTC @ 3,500,000 TRY",
                    events=[{"kind": "FILL_RECORDED", "symbol": "BTCTRY"}], context={"exchange": "sim"})


def test_webhook_posts_text_context_and_events(router: respx.MockRouter) -> None:
    route = router.post(HOOK).mock(return_value=httpx.Response(200))
    assert send(NOTE, "webhook", HOOK) is None
    body = json.loads(route.calls.last.request.content)
    assert body == {"text": NOTE.text, "source": "btcbot", "exchange": "sim", "events": NOTE.events}


def test_telegram_posts_send_message_with_chat_id(router: respx.MockRouter) -> None:
    route = router.post(f"{BOT}/sendMessage").mock(return_value=httpx.Response(200, json={"ok": True}))
    assert send(NOTE, "telegram", BOT, chat_id="-100123") is None
    assert send(NOTE, "telegram", f"{BOT}/sendMessage", chat_id="-100123") is None  # the full method URL too
    body = json.loads(route.calls.last.request.content)
    assert body == {"chat_id": "-100123", "text": NOTE.text, "disable_web_page_preview": True}
    assert route.call_count == 2


def test_refused_or_unreachable_endpoint_is_a_reason_without_the_url(router: respx.MockRouter) -> None:
    router.post(HOOK).mock(side_effect=[httpx.Response(500), httpx.ReadTimeout("timed out"),
                                        httpx.ConnectError(f"cannot connect to {HOOK}")])
    reasons = [send(NOTE, "webhook", HOOK) for _ in range(3)]
    assert reasons == ["not delivered (HTTP 500)", "not delivered (ReadTimeout)", "not delivered (ConnectError)"]
    assert not any("T0KEN" in r or "hooks.example" in r for r in reasons if r)


def test_requests_carry_the_short_timeout(router: respx.MockRouter) -> None:
    route = router.post(HOOK).mock(return_value=httpx.Response(204))
    assert send(NOTE, "webhook", HOOK) is None
    timeout = route.calls.last.request.extensions["timeout"]
    assert set(timeout.values()) == {TIMEOUT_SECONDS}
