"""Decision and state-change events (R-OBS). Kinds are past tense; one generic record shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Event", "EventKind"]


class EventKind(StrEnum):
    CYCLE_STARTED = "CYCLE_STARTED"
    CYCLE_FINISHED = "CYCLE_FINISHED"
    MODE_SELECTED = "MODE_SELECTED"
    MARKET_DATA_STALE = "MARKET_DATA_STALE"
    BALANCES_UNAVAILABLE = "BALANCES_UNAVAILABLE"
    INTENT_CREATED = "INTENT_CREATED"
    INTENT_DROPPED = "INTENT_DROPPED"
    ACTION_DEDUPED = "ACTION_DEDUPED"
    ORDER_SUBMITTING = "ORDER_SUBMITTING"
    ORDER_STATUS_CHANGED = "ORDER_STATUS_CHANGED"
    ORDER_PROBED = "ORDER_PROBED"
    ORDER_CANCEL_SENT = "ORDER_CANCEL_SENT"
    ORDER_KEPT = "ORDER_KEPT"
    EXTERNAL_ORDER_DETECTED = "EXTERNAL_ORDER_DETECTED"
    FILL_RECORDED = "FILL_RECORDED"
    FILL_DISCREPANCY = "FILL_DISCREPANCY"
    POSITION_OVERSOLD = "POSITION_OVERSOLD"
    BALANCE_MISMATCH = "BALANCE_MISMATCH"
    TRADING_STATE_CHANGED = "TRADING_STATE_CHANGED"
    BREAKER_CHANGED = "BREAKER_CHANGED"
    RATE_LIMITED = "RATE_LIMITED"
    EXCHANGE_ERROR = "EXCHANGE_ERROR"
    RECONCILE_APPLIED = "RECONCILE_APPLIED"
    TRAIL_ARMED = "TRAIL_ARMED"  # trailing stop: see domain/strategies/trailing.py
    TRAIL_MARK_RAISED = "TRAIL_MARK_RAISED"
    TRAIL_TRIGGERED = "TRAIL_TRIGGERED"
    TRAIL_RESET = "TRAIL_RESET"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"  # same idempotency key, another payload: not taken
    MARKET_DATA_INVALID = "MARKET_DATA_INVALID"
    REPLACE_CHAIN_CHANGED = "REPLACE_CHAIN_CHANGED"
    RISK_LIMIT_BREACHED = "RISK_LIMIT_BREACHED"
    RISK_LIMIT_OVERRIDDEN = "RISK_LIMIT_OVERRIDDEN"
    RISK_LIMIT_UNEVALUATED = "RISK_LIMIT_UNEVALUATED"
    JOURNAL_COMPACTED = "JOURNAL_COMPACTED"  # `btcbot compact` archived old rows of a table (one per archive file)
    STATE_DIR_EXCHANGE_RECORDED = "STATE_DIR_EXCHANGE_RECORDED"  # one state dir, one exchange (services/venue.py)


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    code: str = ""
    symbol: str | None = None
    client_order_id: str | None = None
    detail: dict[str, str] = field(default_factory=dict)
