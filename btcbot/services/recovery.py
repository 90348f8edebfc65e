"""`btcbot reconcile`: the manual face of reconciliation (SPEC §10). Same facts → fixes → apply pipeline as
the cycle, with a thorough search, plus fills and balances; shows differences, fixes them with --apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.balances import compare_balances, implied_totals
from btcbot.domain.breaker import Breaker
from btcbot.domain.models import Balance, FillReport
from btcbot.domain.money import dec_str
from btcbot.domain.order_fsm import IN_FLIGHT, LIVE
from btcbot.domain.reconcile import Fix, FixKind, SearchBudget, VenueFacts, plan_fixes
from btcbot.services.balance_check import fills_pending, implied_now, managed_assets, set_baseline
from btcbot.services.cycle import Deps
from btcbot.services.reconcile import apply_fixes, collect_facts

__all__ = ["ACTIONS", "Difference", "RecoveryReport", "run_reconcile"]

LOOKBACK = timedelta(days=7)
ACTIONS = {
    FixKind.SETTLE: "apply venue status", FixKind.NOT_PLACED: "mark NOT_PLACED", FixKind.PROBE: "keep searching",
    FixKind.VANISHED: "keep, probe again", FixKind.EXTERNAL: "record as external (never cancelled)",
    FixKind.MISMATCH: "none (terminal order; investigate)", "FILL": "record fill",
    FixKind.MAYBE_OURS: "wait: may be our in-flight order (not tagged external)",
    "BALANCE": "accept venue totals as new baseline",
}
_UNAPPLIABLE = {FixKind.PROBE, FixKind.VANISHED, FixKind.MISMATCH, FixKind.MAYBE_OURS}


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
    breaker: Breaker = field(default_factory=Breaker)  # reported; reconcile never writes to the exchange

    @property
    def exit_code(self) -> int:
        pending = self.remaining if self.applied else self.differences
        return 4 if pending else 0


def run_reconcile(deps: Deps, apply: bool, budget: SearchBudget) -> RecoveryReport:
    report = RecoveryReport(applied=apply, breaker=deps.store.breaker())
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
        balance_diffs = {d.subject for d in report.differences if d.kind == "BALANCE"}
        # the operator accepts the venue's totals, unless fills of ours are still to be listed: their effect is in
        # the totals already and would be counted twice once they are recorded (it stays a difference meanwhile)
        if balance_diffs and not balance_diffs & fills_pending(store, now):
            set_baseline(store, {b.asset: b for b in venue_balances}, now)
    report.remaining, _ = _differences(deps, budget)
    store.finish_cycle(cycle_id, "ok" if not report.remaining else "differences", report.exit_code,
                       {"differences": len(report.differences), "remaining": len(report.remaining)},
                       deps.clock.now())
    return report


def _differences(deps: Deps, budget: SearchBudget) -> tuple[list[Difference], tuple]:  # type: ignore[type-arg]
    """Venue facts vs the journal, reading only what can still differ (R-PERF): the non-terminal orders, the
    terminal ones of the last LOOKBACK that the venue mentions, and the venue's fills of that window."""
    exchange, store, now = deps.exchange, deps.store, deps.clock.now()
    live = store.orders(IN_FLIGHT | LIVE)
    symbols = sorted(set(deps.settings.symbols) | {o.symbol for o in live} | store.order_symbols_since(now - LOOKBACK))
    open_reports = exchange.open_orders(symbols)
    since = min([now - LOOKBACK, *(o.created_at for o in live)])
    venue_fills = exchange.fills(symbols, since=since)
    facts = collect_facts(exchange, live, open_reports, symbols, since, venue_fills)
    orders = store.orders_to_reconcile(now - LOOKBACK, *_mentioned(facts, venue_fills))
    fixes = plan_fixes(orders, facts, now, budget, exhaustive=True)
    known = store.known_trade_ids(f.trade_id for f in venue_fills)
    missing_fills = [f for f in venue_fills if f.trade_id not in known]
    venue_balances: list[Balance] | None = exchange.balances()
    diffs = [_from_fix(f) for f in fixes] + [_from_fill(f) for f in missing_fills]
    diffs += _balance_diffs(store, missing_fills, venue_balances or [], managed_assets(symbols))
    return diffs, (fixes, facts, missing_fills, venue_balances, now)


def _mentioned(facts: VenueFacts, fills: list[FillReport]) -> tuple[set[int], set[str]]:
    """Exchange and client ids of every order the venue reported (open, searched, probed, or in a fill)."""
    reports = [*facts.open_orders, *(r for rows in facts.history.values() for r in rows), *facts.probes.values()]
    exchange_ids = {r.exchange_order_id for r in reports} | {f.exchange_order_id for f in fills}
    exchange_ids |= set(facts.fill_orders.values())
    client_ids = {r.client_order_id for r in reports if r.client_order_id}
    client_ids |= {f.client_order_id for f in fills if f.client_order_id} | set(facts.fill_orders)
    return exchange_ids, client_ids


def _from_fix(fix: Fix) -> Difference:
    subject = fix.client_order_id or (f"venue order {fix.report.exchange_order_id}" if fix.report else "")
    return Difference(fix.kind, fix.symbol, subject, fix.local, fix.venue)


def _from_fill(fill: FillReport) -> Difference:
    venue = f"{fill.side.value} {dec_str(fill.quantity)} @ {dec_str(fill.price)} order {fill.exchange_order_id}"
    return Difference("FILL", fill.symbol, f"trade {fill.trade_id}", "missing", venue)


def _balance_diffs(store: Store, missing_fills: list[FillReport], venue: list[Balance],
                   assets: set[str]) -> list[Difference]:
    """Venue totals vs what the ledger implies (baseline + recorded fills + the fills about to be recorded);
    without a baseline yet, vs the last snapshot. free/locked move with our own orders, so totals only."""
    implied = implied_now(store)
    if implied is not None:
        implied = implied_totals(implied, missing_fills)
        label = "ledger implies"
    else:
        implied = {b.asset: b.total for b in store.latest_balances()[0]}
        label = "last snapshot"
    actual = {b.asset: b.total for b in venue}
    return [Difference("BALANCE", m.asset, m.asset, f"{label} {dec_str(m.implied)}", f"total {dec_str(m.actual)}")
            for m in compare_balances(implied, actual, assets | set(actual), Decimal(0))]
