"""Stage-7 OMS vocabulary mapped onto the one order state machine (R-FSM, SPEC §13). Data, not a second machine.

Stage 7 speaks of an order as PLANNED → SUBMIT_REQUESTED → ACKED → PARTIAL_FILL → FILLED, or REJECTED /
CANCELED. Those names are a view of `order_fsm.OrderStatus`: every status maps to exactly one stage-7 name
(`OMS_STATE`), refined by one rule: an order that is still live and has fills is PARTIAL_FILL (a cancel request
on a partly filled order does not take it back to ACKED). Transitions stay those of `order_fsm.TRANSITIONS`;
this module never moves an order.

PLANNED is an accepted intent that has no journal row yet (it exists only inside a cycle). An UNKNOWN order
(ambiguous submit) is still SUBMIT_REQUESTED: the venue has not been seen to acknowledge it. NOT_PLACED (a
submit proven never to have landed) is REJECTED: the venue did not take it.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from btcbot.domain.order_fsm import LIVE, OrderStatus

__all__ = ["OMS_RANK", "OMS_STATE", "OmsState", "oms_state"]


class OmsState(StrEnum):
    PLANNED = "PLANNED"
    SUBMIT_REQUESTED = "SUBMIT_REQUESTED"
    ACKED = "ACKED"
    PARTIAL_FILL = "PARTIAL_FILL"
    FILLED = "FILLED"
    REJECTED = "REJECTED"
    CANCELED = "CANCELED"


S, M = OrderStatus, OmsState

OMS_STATE: MappingProxyType[OrderStatus, OmsState] = MappingProxyType({
    S.SUBMITTING: M.SUBMIT_REQUESTED,  # write-ahead row committed, reply not seen
    S.UNKNOWN: M.SUBMIT_REQUESTED,  # ambiguous reply: reconciliation settles it, never a resend
    S.OPEN: M.ACKED,
    S.PARTIALLY_FILLED: M.PARTIAL_FILL,
    S.CANCEL_REQUESTED: M.ACKED,  # still live on the venue until its terminal status is seen
    S.FILLED: M.FILLED,
    S.CANCELED: M.CANCELED,  # may carry fills: a partly filled order that was then cancelled
    S.REJECTED: M.REJECTED,
    S.NOT_PLACED: M.REJECTED,  # proven never to have landed
})

# Progress order of the stage-7 names: following any FSM transition never moves an order backwards.
OMS_RANK: MappingProxyType[OmsState, int] = MappingProxyType({
    M.PLANNED: 0, M.SUBMIT_REQUESTED: 1, M.ACKED: 2, M.PARTIAL_FILL: 3,
    M.FILLED: 4, M.REJECTED: 4, M.CANCELED: 4,
})


def oms_state(status: OrderStatus, filled: Decimal = Decimal(0)) -> OmsState:
    """The stage-7 name of an order in `status` with `filled` base quantity filled so far."""
    if status in LIVE and filled > 0:
        return OmsState.PARTIAL_FILL
    return OMS_STATE[status]
