"""Deterministic client order ids and dedupe keys (R-EXEC-1, R-EXEC-2)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from btcbot.domain.models import Side

__all__ = ["CLIENT_ID_MAX_LEN", "action_key", "bucket_of", "client_order_id", "event_id"]

CLIENT_ID_MAX_LEN = 36  # BTCTurk generates GUIDs (36 chars) when none is given; stay within that.


def bucket_of(now: datetime, bucket_seconds: int) -> int:
    """The dedupe time bucket `now` (timezone-aware) falls into."""
    if now.tzinfo is None:
        raise ValueError("bucket_of needs an aware datetime")
    if bucket_seconds <= 0:
        raise ValueError("bucket_seconds must be positive")
    return int(now.timestamp()) // bucket_seconds


def client_order_id(stage: str, symbol: str, side: Side, intent_hash: str, bucket: int) -> str:
    """`bb<stage><b|s>-<symbol>-<16 hex>`: readable, deterministic, at most 36 characters."""
    digest = hashlib.sha256(f"{stage}|{symbol}|{side.value}|{intent_hash}|{bucket}".encode()).hexdigest()
    cid = f"bb{stage[:3]}{side.value[0]}-{symbol[:12]}-{digest[:16]}"  # the hash covers the full stage
    if len(cid) > CLIENT_ID_MAX_LEN:
        raise ValueError(f"client order id {cid!r} longer than {CLIENT_ID_MAX_LEN}")
    return cid


def action_key(action_type: str, payload_hash: str, bucket: int) -> str:
    """Dedupe key of an action: (type, payload hash, time bucket)."""
    return f"{action_type}:{payload_hash[:24]}:{bucket}"


def event_id(*parts: object) -> str:
    """Deterministic event id so that replays dedupe with INSERT OR IGNORE."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]
