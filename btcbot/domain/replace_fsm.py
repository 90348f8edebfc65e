"""The replace machine (R-LIFE, R-EXEC-7): one persisted step of a cancel/replace chain. Pure.

A replace never has two orders live at once: the old order's cancel is requested, the venue must report it
terminal (CANCELED, or FILLED when a fill raced the cancel), its fills must be in the ledger, and only then
is the replacement submitted, sized from the position as it is *then* (never the quantity planned when the
cancel was requested). Each step is a row (old order → new order); a chain A → B → C is two steps sharing a
root. The state survives crashes: whatever the cycle last committed is where the next cycle resumes.

    CANCEL_REQUESTED ──OLD_TERMINAL──────────────▶ READY ──SUBMITTED──▶ REPLACED
          │  ▲ CANCEL_RESENT, OLD_PARTIALLY_FILLED   ▲  └──NOT_WANTED──▶ ABANDONED
          │  └──(self loops)                         │
          ├──OLD_TERMINAL_FILLS_PENDING──▶ AWAITING_FILLS ──FILLS_RECORDED / FILLS_WAIT_EXPIRED──┘
          └──CANCEL_REFUSED──▶ ABANDONED   (the venue refused the cancel: the old order is live again)

Transitions are data; an illegal one raises InvalidTransition naming "FROM -> EVENT" (as order_fsm does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from btcbot.domain.models import LocalOrder, Side
from btcbot.domain.order_fsm import next_state

__all__ = [
    "OPEN_STATES",
    "REPLACE_TRANSITIONS",
    "ChainStep",
    "ReplaceChain",
    "ReplaceEvent",
    "ReplaceState",
    "replace_transition",
]


class ReplaceState(StrEnum):
    CANCEL_REQUESTED = "CANCEL_REQUESTED"  # the old order's cancel was requested; the replacement waits
    AWAITING_FILLS = "AWAITING_FILLS"  # the old order is terminal, but the venue reports fills we lack
    READY = "READY"  # the old order is terminal and its fills are in the ledger: submit the replacement
    REPLACED = "REPLACED"  # the replacement's write-ahead row exists (its own FSM takes over)
    ABANDONED = "ABANDONED"  # nothing to submit: not wanted any more, or the cancel was refused


class ReplaceEvent(StrEnum):
    CANCEL_RESENT = "CANCEL_RESENT"  # unconfirmed for a while: the cancel was sent again
    OLD_PARTIALLY_FILLED = "OLD_PARTIALLY_FILLED"  # real world: a fill raced the pending cancel
    OLD_TERMINAL = "OLD_TERMINAL"  # venue says CANCELED/FILLED and every fill of it is recorded
    OLD_TERMINAL_FILLS_PENDING = "OLD_TERMINAL_FILLS_PENDING"  # terminal, but its fills are not all visible yet
    FILLS_RECORDED = "FILLS_RECORDED"
    FILLS_WAIT_EXPIRED = "FILLS_WAIT_EXPIRED"  # bounded wait: proceed (FILL_DISCREPANCY reports the gap)
    CANCEL_REFUSED = "CANCEL_REFUSED"  # the venue refused the cancel and the old order is live again
    SUBMITTED = "SUBMITTED"  # the replacement was journaled (same transaction as its order row)
    NOT_WANTED = "NOT_WANTED"  # no accepted intent for (symbol, side) any more, or another order covers it


R, E = ReplaceState, ReplaceEvent

OPEN_STATES = frozenset({R.CANCEL_REQUESTED, R.AWAITING_FILLS, R.READY})
TERMINAL_STATES = frozenset({R.REPLACED, R.ABANDONED})

REPLACE_TRANSITIONS: dict[tuple[ReplaceState, ReplaceEvent], ReplaceState] = {
    (R.CANCEL_REQUESTED, E.CANCEL_RESENT): R.CANCEL_REQUESTED,
    (R.CANCEL_REQUESTED, E.OLD_PARTIALLY_FILLED): R.CANCEL_REQUESTED,  # the planned size is stale from now on
    (R.CANCEL_REQUESTED, E.OLD_TERMINAL): R.READY,
    (R.CANCEL_REQUESTED, E.OLD_TERMINAL_FILLS_PENDING): R.AWAITING_FILLS,
    (R.CANCEL_REQUESTED, E.CANCEL_REFUSED): R.ABANDONED,
    (R.AWAITING_FILLS, E.FILLS_RECORDED): R.READY,
    (R.AWAITING_FILLS, E.FILLS_WAIT_EXPIRED): R.READY,
    (R.READY, E.SUBMITTED): R.REPLACED,
    (R.READY, E.NOT_WANTED): R.ABANDONED,
}


def replace_transition(state: ReplaceState, event: ReplaceEvent) -> ReplaceState:
    """Return the next state or raise InvalidTransition naming "FROM -> EVENT"."""
    return next_state(REPLACE_TRANSITIONS, TERMINAL_STATES, state, event)


@dataclass(frozen=True, slots=True)
class ReplaceChain:
    """One persisted step old → new of a replace chain."""

    id: int
    root_client_order_id: str  # the first order of the chain
    seq: int  # 1 for the first step of a chain
    symbol: str
    side: Side
    old_client_order_id: str
    new_client_order_id: str | None
    state: ReplaceState
    trigger: str  # the planner's code: REPLACE_PRICE_MOVED, REPLACE_QUANTITY_CHANGED, CANCEL_STALE_AGE
    planned_price: Decimal  # the replacement as planned when the cancel was requested (shown, never sent)
    planned_quantity: Decimal
    old_filled_at_request: Decimal  # the old order's filled quantity when its cancel was requested
    old_filled_seen: Decimal  # ... as last seen by the machine
    stage: str
    created_at: datetime
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True, slots=True)
class ChainStep:
    """An open step with the current journal row of its old order (what the planner decides on)."""

    chain: ReplaceChain
    old: LocalOrder
