"""Stage-7 runner: optional earlier stages, then the allocation cycle, under the caller's one lock.

Every stage is one `run_cycle` call with its own `StageConfig`, through the same execution core; nothing here
submits, cancels or reconciles. After the stage-7 cycle, the orders it touched are shown in the OMS vocabulary
(`domain/oms.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.models import LocalOrder
from btcbot.domain.oms import OmsState, oms_state
from btcbot.services.cycle import CycleReport, Deps, StageConfig, run_cycle

__all__ = ["OmsOrder", "Stage7Result", "oms_orders", "run_stage7"]


@dataclass(frozen=True, slots=True)
class OmsOrder:
    order: LocalOrder
    state: OmsState

    @property
    def filled(self) -> Decimal:
        return max(self.order.filled_quantity, self.order.exchange_filled)


@dataclass(slots=True)
class Stage7Result:
    report: CycleReport
    first: list[CycleReport] = field(default_factory=list)  # cycles of the stages run before (--with-stage4)
    oms: list[OmsOrder] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The first non-zero exit code of the cycles run, else 0."""
        return next((r.exit_code for r in [*self.first, self.report] if r.exit_code), 0)


def run_stage7(deps: Deps, stage: StageConfig, first: Sequence[StageConfig] = ()) -> Stage7Result:
    """Run `first` (each its own cycle), then the stage-7 cycle; every cycle runs even when an earlier one
    aborted (each aborts safely on its own, and its trading state and gates apply to the next)."""
    earlier = [run_cycle(deps, config) for config in first]
    report = run_cycle(deps, stage)
    return Stage7Result(report, earlier, oms_orders(deps.store, report.cycle_id))


def oms_orders(store: Store, cycle_id: int) -> list[OmsOrder]:
    """Our orders with an event in cycle `cycle_id`, oldest first, with their stage-7 state."""
    seen = dict.fromkeys(row["client_order_id"] for row in store.events(cycle_id) if row["client_order_id"])
    orders = [o for o in (store.order(cid) for cid in seen) if o is not None and not o.external]
    orders.sort(key=lambda o: (o.created_at, o.client_order_id))
    return [OmsOrder(o, oms_state(o.status, max(o.filled_quantity, o.exchange_filled))) for o in orders]
