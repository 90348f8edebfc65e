"""The one order state machine (R-FSM). Transitions are data; terminal states are immutable.

Stage vocabularies map onto it as data: stage 7's names (SUBMIT_REQUESTED, ACKED, PARTIAL_FILL, ...) are in
`oms.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from enum import StrEnum
from typing import TypeVar

from btcbot.domain.errors import InvalidTransition

__all__ = [
    "IN_FLIGHT",
    "LIVE",
    "TERMINAL",
    "TRANSITIONS",
    "OrderEvent",
    "OrderStatus",
    "transition",
]


class OrderStatus(StrEnum):
    SUBMITTING = "SUBMITTING"  # write-ahead row committed, request not yet answered
    OPEN = "OPEN"  # acknowledged or seen resting with no fill
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"  # cancel accepted by the venue, terminal status not yet seen
    UNKNOWN = "UNKNOWN"  # submit outcome ambiguous; reconciliation settles it
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"  # definitive "no" from the venue
    NOT_PLACED = "NOT_PLACED"  # proven (bounded search) never to have landed


class OrderEvent(StrEnum):
    ACKED = "ACKED"  # submit reply with an exchange id
    REJECTED = "REJECTED"  # definitive business rejection
    AMBIGUOUS = "AMBIGUOUS"  # timeout / 5xx / parse failure after send
    SEEN_OPEN = "SEEN_OPEN"  # reconciliation found it resting (Untouched)
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"  # Closed
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCEL_FAILED = "CANCEL_FAILED"  # venue refused the cancel and the order is still open
    CANCELED = "CANCELED"
    NOT_FOUND = "NOT_FOUND"  # search budget exhausted: never landed


S, E = OrderStatus, OrderEvent

TERMINAL = frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.NOT_PLACED})
IN_FLIGHT = frozenset({S.SUBMITTING, S.UNKNOWN})
LIVE = frozenset({S.OPEN, S.PARTIALLY_FILLED, S.CANCEL_REQUESTED})

TRANSITIONS: dict[tuple[OrderStatus, OrderEvent], OrderStatus] = {
    # write-ahead row: the reply decides, or reconciliation does
    (S.SUBMITTING, E.ACKED): S.OPEN,
    (S.SUBMITTING, E.REJECTED): S.REJECTED,
    (S.SUBMITTING, E.AMBIGUOUS): S.UNKNOWN,
    # a crash between commit and reply: the next cycle's search may find it in any state
    (S.SUBMITTING, E.SEEN_OPEN): S.OPEN,
    (S.SUBMITTING, E.PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.SUBMITTING, E.FILLED): S.FILLED,
    (S.SUBMITTING, E.CANCELED): S.CANCELED,
    (S.SUBMITTING, E.NOT_FOUND): S.NOT_PLACED,
    # ambiguous submit: settled only by what the venue shows
    (S.UNKNOWN, E.ACKED): S.OPEN,
    (S.UNKNOWN, E.SEEN_OPEN): S.OPEN,
    (S.UNKNOWN, E.PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.UNKNOWN, E.FILLED): S.FILLED,
    (S.UNKNOWN, E.CANCELED): S.CANCELED,
    (S.UNKNOWN, E.NOT_FOUND): S.NOT_PLACED,
    (S.UNKNOWN, E.AMBIGUOUS): S.UNKNOWN,  # another inconclusive probe
    # resting
    (S.OPEN, E.SEEN_OPEN): S.OPEN,
    (S.OPEN, E.ACKED): S.OPEN,  # a late duplicate ack is harmless
    (S.OPEN, E.PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.OPEN, E.FILLED): S.FILLED,
    (S.OPEN, E.CANCEL_REQUESTED): S.CANCEL_REQUESTED,
    (S.OPEN, E.CANCELED): S.CANCELED,  # cancelled outside the bot (or by the venue)
    (S.PARTIALLY_FILLED, E.SEEN_OPEN): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.FILLED): S.FILLED,
    (S.PARTIALLY_FILLED, E.CANCEL_REQUESTED): S.CANCEL_REQUESTED,
    (S.PARTIALLY_FILLED, E.CANCELED): S.CANCELED,
    # BTCTurk cancels are asynchronous: a 200 is only a request
    (S.CANCEL_REQUESTED, E.SEEN_OPEN): S.CANCEL_REQUESTED,  # still resting, cancel pending
    (S.CANCEL_REQUESTED, E.PARTIALLY_FILLED): S.CANCEL_REQUESTED,  # real world: fill raced the cancel
    (S.CANCEL_REQUESTED, E.CANCEL_REQUESTED): S.CANCEL_REQUESTED,  # re-sent after an ambiguous reply
    (S.CANCEL_REQUESTED, E.FILLED): S.FILLED,  # real world: filled before the cancel landed
    (S.CANCEL_REQUESTED, E.CANCELED): S.CANCELED,
    (S.CANCEL_REQUESTED, E.CANCEL_FAILED): S.OPEN,  # venue refused; fills (if any) move it on
}


_St = TypeVar("_St", bound=StrEnum)
_Ev = TypeVar("_Ev", bound=StrEnum)


def next_state(table: Mapping[tuple[_St, _Ev], _St], terminal: AbstractSet[_St], state: _St, event: _Ev) -> _St:
    """A transition table's next state, or InvalidTransition naming "FROM -> EVENT" (every machine's lookup)."""
    if state in terminal:
        raise InvalidTransition(f"{state.value} -> {event.value}: {state.value} is terminal")
    try:
        return table[(state, event)]
    except KeyError:
        raise InvalidTransition(f"{state.value} -> {event.value}: not an allowed transition") from None


def transition(status: OrderStatus, event: OrderEvent) -> OrderStatus:
    """Return the next status or raise InvalidTransition naming "FROM -> EVENT"."""
    return next_state(TRANSITIONS, TERMINAL, status, event)
