"""Lifecycle planning step of the cycle (R-LIFE): the pure planner over our orders and the open replace-chain
steps, whose moves are persisted (each with its event) before execution runs the plan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Intent, LocalOrder
from btcbot.domain.planner import Plan, PlanParams, plan

__all__ = ["plan_lifecycle"]


def plan_lifecycle(store: Store, accepted: Sequence[Intent], ours: Sequence[LocalOrder], snapshot: MarketSnapshot,
                   now: datetime, params: PlanParams, cycle_id: int) -> Plan:
    """Plan keeps, cancels, replaces and submits; commit the chain moves (a crash after this resumes from them).
    A side whose recently filled order's fills are not listed yet gets no submit (for at most the fills wait)."""
    unsettled = [o for o in store.orders_with_fill_gap(now - timedelta(seconds=params.fills_wait_seconds))
                 if not o.external]
    the_plan = plan(accepted, ours, now, params, store.open_chain_steps(), fresh=set(snapshot.books),
                    unsettled=unsettled)
    store.move_chains(the_plan.chain_moves, cycle_id, now)
    return the_plan
