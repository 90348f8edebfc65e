"""`btcbot reconcile`: the manual face of reconciliation (SPEC §10). Same facts → fixes → apply pipeline as
the cycle, with a thorough search, plus fills and balances; shows differences, fixes them with --apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from btcbot.domain.models import Balance, FillReport
from btcbot.domain.money import dec_str
from btcbot.domain.order_fsm import TERMINAL
from btcbot.domain.reconcile import Fix, FixKind, SearchBudget, plan_fixes
from btcbot.services.cycle import Deps
from btcbot.services.reconcile import apply_fixes, collect_facts

__all__ = ["ACTIONS", "Difference", "RecoveryReport", "run_reconcile"]

LOOKBACK = timedelta(days=7)
ACTIONS = {
    FixKind.SETTLE: "apply venue status", FixKind.NOT_PLACED: "mark NOT_PLACED", FixKind.PROBE: "keep searching",
    FixKind.VANISHED: "keep, probe again", FixKind.EXTERNAL: "record as external (never cancelled)",
    FixKind.MISMATCH: "none (terminal order; investigate)", "FILL": "record fill", "BALANCE": "refresh snapshot",
}
_UNAPPLIABLE = {FixKind.PROBE, FixKind.VANISHED, FixKind.MISMATCH}


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    symbol: str
    subject: str
    local: str
    venue: str

    @property
    def action(self) -> str:
        return ACTIONS.get(self.kind, "")

    @property
    def appliable(self) -> bool:
        return self.kind not in _UNAPPLIABLE


@dataclass(slots=True)
class RecoveryReport:
    differences: list[Difference] = field(default_factory=list)
    applied: bool = False
    remaining: list[Difference] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        pending = self.remaining if self.applied else self.differences
        return 4 if pending else 0


def run_reconcile(deps: Deps, apply: bool, budget: SearchBudget) -> RecoveryReport:
    report = RecoveryReport(applied=apply)
    report.differences, state = _differences(deps, budget)
    if not apply or not report.differences:
        return report
    fixes, facts, missing_fills, venue_balances, now = state
    store = deps.store
    cycle_id = store.start_cycle("reconcile", deps.mode.label, now)
    apply_fixes(store, [f for f in fixes if f.kind not in _UNAPPLIABLE], facts, now, cycle_id)
    store.record_fills(missing_fills, now, cycle_id)
    if venue_balances is not None:
        store.save_balances(cycle_id, venue_balances, now)
    report.remaining, _ = _differences(deps, budget)
    store.finish_cycle(cycle_id, "ok" if not report.remaining else "differences", report.exit_code,
                       {"differences": len(report.differences), "remaining": len(report.remaining)},
                       deps.clock.now())
    return report


def _differences(deps: Deps, budget: SearchBudget) -> tuple[list[Difference], tuple]:  # type: ignore[type-arg]
    exchange, store, now = deps.exchange, deps.store, deps.clock.now()
    symbols = list(deps.settings.symbols)
    orders = [o for o in store.orders() if o.status not in TERMINAL or now - o.updated_at < LOOKBACK]
    symbols = sorted(set(symbols) | {o.symbol for o in orders})
    open_reports = exchange.open_orders(symbols)
    since = min([now - LOOKBACK, *(o.created_at for o in orders if o.status not in TERMINAL)])
    facts = collect_facts(exchange, orders, open_reports, symbols, since)
    fixes = plan_fixes(orders, facts, now, budget, exhaustive=True)
    venue_fills = exchange.fills(symbols, since=since)
    known = {f.trade_id for f in store.fills()}
    missing_fills = [f for f in venue_fills if f.trade_id not in known]
    venue_balances: list[Balance] | None = exchange.balances()
    local_balances, _ = store.latest_balances()
    diffs = [_from_fix(f) for f in fixes] + [_from_fill(f) for f in missing_fills]
    diffs += _balance_diffs(local_balances, venue_balances or [])
    return diffs, (fixes, facts, missing_fills, venue_balances, now)


def _from_fix(fix: Fix) -> Difference:
    subject = fix.client_order_id or (f"venue order {fix.report.exchange_order_id}" if fix.report else "")
    return Difference(fix.kind, fix.symbol, subject, fix.local, fix.venue)


def _from_fill(fill: FillReport) -> Difference:
    venue = f"{fill.side.value} {dec_str(fill.quantity)} @ {dec_str(fill.price)} order {fill.exchange_order_id}"
    return Difference("FILL", fill.symbol, f"trade {fill.trade_id}", "missing", venue)


def _balance_diffs(local: list[Balance], venue: list[Balance]) -> list[Difference]:
    mine = {b.asset: b for b in local}
    diffs = []
    for balance in venue:
        old = mine.get(balance.asset)
        if old is None and balance.total == 0:
            continue
        if old is None or old.free != balance.free or old.locked != balance.locked:
            local_text = f"free={dec_str(old.free)} locked={dec_str(old.locked)}" if old else "no snapshot"
            diffs.append(Difference("BALANCE", balance.asset, balance.asset, local_text,
                                    f"free={dec_str(balance.free)} locked={dec_str(balance.locked)}"))
    return diffs


