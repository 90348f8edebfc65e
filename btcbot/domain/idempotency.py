"""Hard idempotency of submits (R-EXEC-5). Pure: the key, the verdict and the deterministic event keys.

An idempotency key names one logical action: "the submit of <stage> on <venue> for <symbol> <side> in dedupe
bucket N". The payload is the hash of what would be sent (symbol, side, method, quantized price and
quantity). The first claim of a key records its payload; a later claim of the same key is
- the same payload → REPLAY: a no-op (nothing is sent again);
- another payload → CONFLICT: an error recorded as an event, and the action is not taken.
So a stage with idempotency on sends at most one order per symbol, side and bucket, whatever happens
between (a replacement, a rerun, a crash and restart).
"""

from __future__ import annotations

from enum import StrEnum

from btcbot.domain.models import Side

__all__ = ["CONFLICT_CODE", "REPLAY_CODE", "IdemVerdict", "event_key", "judge", "submit_key"]

CONFLICT_CODE = "IDEMPOTENCY_CONFLICT"
REPLAY_CODE = "IDEMPOTENT_REPLAY"


class IdemVerdict(StrEnum):
    NEW = "NEW"  # first claim: take the action
    REPLAY = "REPLAY"  # same key, same payload: already done, do nothing
    CONFLICT = "CONFLICT"  # same key, another payload: refuse and record


def submit_key(venue: str, stage: str, symbol: str, side: Side, bucket: int) -> str:
    """The idempotency key of a submit (readable; the table's primary key)."""
    return f"submit:{venue}:{stage}:{symbol}:{side.value}:{bucket}"


def judge(stored_payload: str | None, payload: str) -> IdemVerdict:
    """Verdict for claiming a key whose recorded payload is `stored_payload` (None: never claimed)."""
    if stored_payload is None:
        return IdemVerdict.NEW
    return IdemVerdict.REPLAY if stored_payload == payload else IdemVerdict.CONFLICT


def event_key(verdict: IdemVerdict, key: str, payload: str) -> str:
    """Seed of the deterministic event id of a claim's event: the same fact is recorded once
    (INSERT OR IGNORE), however often the claim is repeated."""
    return f"idempotency|{verdict.value}|{key}|{payload}"
