"""The cycle (SPEC §4), one function that reads as the pipeline. Stages differ only by StageConfig."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from btcbot.adapters.sqlite.store import Store
from btcbot.config import Settings
from btcbot.domain.account import free_for_execution
from btcbot.domain.accounting import Position
from btcbot.domain.balances import Mismatch
from btcbot.domain.breaker import Outcome
from btcbot.domain.errors import AuthFailed, BreakerOpen, ConfigError, ExchangeError, describe
from btcbot.domain.events import Event, EventKind
from btcbot.domain.guards import GUARDS_OFF, GuardParams
from btcbot.domain.market import MarketSnapshot
from btcbot.domain.models import Denial, Intent, LocalOrder, Side, TradingState
from btcbot.domain.money import ZERO, dec_str
from btcbot.domain.order_fsm import IN_FLIGHT, LIVE
from btcbot.domain.planner import Plan, PlanParams
from btcbot.domain.reconcile import SearchBudget
from btcbot.domain.replace_fsm import ReplaceChain
from btcbot.domain.risk import RiskParams, filter_intents
from btcbot.domain.strategies import Strategy
from btcbot.domain.strategies.exits import LADDER_KINDS
from btcbot.domain.symbols import SymbolRules
from btcbot.ports import Clock, Exchange
from btcbot.services.balance_check import check_balances
from btcbot.services.breaker import admit_cycle, breaker_params, note_cycle
from btcbot.services.execution import ExecutionContext, ExecutionReport, execute
from btcbot.services.guards import enforce_guards
from btcbot.services.ledger import FillsReport, check_fill_totals, fills_since
from btcbot.services.lifecycle import plan_lifecycle
from btcbot.services.market import load_rules, refresh
from btcbot.services.mode import Mode
from btcbot.services.reconcile import ReconcileReport, reconcile_orders
from btcbot.services.trailing import advance_trails, trail_params
from btcbot.services.valuation import Valuation, value_account

__all__ = ["CycleReport", "Deps", "Mode", "StageConfig", "run_cycle"]

log = logging.getLogger("btcbot.cycle")


@dataclass(slots=True)
class Deps:
    settings: Settings
    exchange: Exchange
    store: Store
    clock: Clock
    mode: Mode


@dataclass(frozen=True, slots=True)
class StageConfig:
    name: str
    symbols: tuple[str, ...]
    strategy: Strategy
    risk: RiskParams
    plan: PlanParams
    budget: SearchBudget
    bucket_seconds: int
    max_data_age: timedelta
    idempotency: bool = False  # hard idempotency keys on submits (R-EXEC-5): same key, other payload → conflict
    guards: GuardParams = GUARDS_OFF  # account guards (drawdown, daily loss); stage 4 configures them


@dataclass(slots=True)
class CycleReport:
    cycle_id: int
    stage: str
    mode: Mode
    symbols: tuple[str, ...]
    started_at: datetime
    outcome: str = "ok"
    exit_code: int = 0
    error: str = ""
    trading_state: TradingState = TradingState.NORMAL
    snapshot: MarketSnapshot | None = None
    intents: list[Intent] = field(default_factory=list)
    denials: list[Denial] = field(default_factory=list)
    plan: Plan | None = None
    execution: ExecutionReport | None = None
    reconcile: ReconcileReport | None = None
    fills: FillsReport | None = None
    positions: dict[str, Position] = field(default_factory=dict)
    valuation: Valuation | None = None
    balance_mismatches: list[Mismatch] = field(default_factory=list)
    chains: list[ReplaceChain] = field(default_factory=list)  # replace-chain steps this cycle changed
    timings: dict[str, float] = field(default_factory=dict)
    breaker_outcome: Outcome | None = None  # what this cycle tells the circuit breaker (None: nothing)

    def summary(self) -> dict[str, object]:
        ex = self.execution
        return {
            "mode": self.mode.label, "venue": self.mode.venue, "symbols": list(self.symbols),
            "intents": len(self.intents), "dropped": len(self.denials),
            "submitted": len(ex.submitted) if ex else 0, "cancel_requested": len(ex.cancel_requested) if ex else 0,
            "unknown": len(ex.unknown) if ex else 0, "rejected": len(ex.rejected) if ex else 0,
            "new_fills": len(self.fills.new) if self.fills else 0, "error": self.error,
            "timings_ms": {k: round(v * 1000, 1) for k, v in self.timings.items()},
            "equity_try": self.complete_equity(),  # per-cycle equity history (status's sparkline)
        }

    def complete_equity(self) -> str | None:
        """This cycle's equity in TRY when every asset was priced (else None: it would fake a drawdown)."""
        account = self.valuation.account if self.valuation else None
        if account is None or account.equity_try is None or not account.equity_complete:
            return None
        return dec_str(account.equity_try)


class _Stopwatch:
    def __init__(self, report: CycleReport) -> None:
        self.report = report
        self.last = time.perf_counter()

    def lap(self, stage: str, counts: str) -> None:
        now = time.perf_counter()
        self.report.timings[stage] = now - self.last
        log.info("cycle %s %-9s %s (%.0f ms)", self.report.cycle_id, stage, counts, (now - self.last) * 1000)
        self.last = now


def run_cycle(deps: Deps, stage: StageConfig) -> CycleReport:
    """refresh → reconcile → accounting → strategy → risk → plan → execute → record. Never raises for
    exchange trouble: the report carries outcome and exit code (3 = aborted safely; also while the circuit
    breaker is open, when nothing is sent). Its outcome is counted by the circuit breaker."""
    store, exchange, now = deps.store, deps.exchange, deps.clock.now()
    mode = Event(EventKind.MODE_SELECTED, deps.mode.label.upper().replace(" ", "_"),
                 detail={"venue": deps.mode.venue, "missing_gates": "; ".join(deps.mode.missing_gates)})
    report = CycleReport(store.start_cycle(stage.name, deps.mode.label, now, [mode]), stage.name, deps.mode,
                         stage.symbols, now)
    cid, watch = report.cycle_id, _Stopwatch(report)
    breaker = breaker_params(deps.settings)
    try:
        admit_cycle(store, breaker, now, cid)  # an open breaker raises BreakerOpen: nothing is sent
        rules = load_rules(exchange, store, stage.symbols, now)
        fresh = refresh(exchange, stage.symbols, rules, now, stage.max_data_age, fills_since(store, now))
        store.record(fresh.events, cid, now)
        report.snapshot = fresh.snapshot
        watch.lap("refresh", f"books={len(fresh.snapshot.books)} stale={len(fresh.snapshot.stale)} "
                             f"open={len(fresh.open_orders)}")

        report.reconcile = reconcile_orders(exchange, store, fresh.open_orders, now, cid, stage.budget,
                                            fresh.fills or [])
        report.fills = FillsReport(fetched=len(fresh.fills or []), skipped=fresh.fills is None,
                                   new=store.record_fills(fresh.fills or [], now, cid))
        report.fills.discrepancies = check_fill_totals(store, now, cid)
        report.positions = positions = store.positions()
        with store.db.atomic(durable=False):  # balance snapshot, marks, equity, balance check: bookkeeping
            if fresh.snapshot.balances is not None:
                store.save_balances(cid, list(fresh.snapshot.balances.values()), now)
            report.valuation = value_account(fresh.snapshot, store, now)
            report.balance_mismatches = check_balances(
                store, fresh.snapshot.balances, stage.symbols, deps.settings.balance_tolerance_bps,
                deps.settings.balance_mismatch_reduce_only, now, cid)
        watch.lap("reconcile", f"settled={len(report.reconcile.settled)} new_fills={len(report.fills.new)}")

        with store.db.atomic(durable=False):  # decisions and chain moves; execution's commits make them durable
            report.trading_state = state = enforce_guards(store, stage.guards, report.valuation, now, cid)
            trails = advance_trails(store, fresh.snapshot, positions, trail_params(deps.settings), cid, now)
            legs = _exit_legs(store, positions)
            report.intents = intents = stage.strategy.decide(fresh.snapshot, positions, legs, trails)
            store.record([_intent_event(i) for i in intents], cid, now)
            ours = store.orders(IN_FLIGHT | LIVE, include_external=False)
            last_fills = {s: p.last_fill_at for s, p in positions.items() if p.last_fill_at is not None}
            decision = filter_intents(intents, fresh.snapshot, positions, ours, last_fills, state, stage.risk)
            report.plan = the_plan = plan_lifecycle(store, decision.accepted, ours, fresh.snapshot, now,
                                                    stage.plan, cid)
            report.denials = decision.denials + the_plan.blocked
            store.record([_drop_event(d, "risk") for d in decision.denials]
                         + [_drop_event(d, "plan") for d in the_plan.blocked], cid, now)
        watch.lap("decide", f"intents={len(intents)} dropped={len(report.denials)} "
                            f"submits={len(the_plan.submits)} cancels={len(the_plan.cancels)}")

        ctx = ExecutionContext(
            exchange=exchange, store=store, stage=stage.name, cycle_id=cid, now=now, dry_run=not deps.mode.live,
            rules=rules, free=free_for_execution(fresh.snapshot.balances, positions, ours, rules),
            bucket_seconds=stage.bucket_seconds, max_order_notional=_order_cap(fresh.snapshot, stage.risk),
            write_gate=_write_gate(deps), idempotency=stage.idempotency,
        )
        report.execution = execute(the_plan, ctx)
        report.denials += report.execution.denied
        report.chains = store.chains(cycle_id=cid)
        watch.lap("execute", f"submitted={len(report.execution.submitted)} "
                             f"cancels={len(report.execution.cancel_requested)} "
                             f"unknown={len(report.execution.unknown)}")
        if report.execution.auth_failed:
            report.outcome, report.exit_code, report.error = "aborted", 3, "authentication failed on submit"
            report.breaker_outcome = Outcome.AUTH_FAILURE
        else:
            report.breaker_outcome = Outcome.SUCCESS
    except BreakerOpen as exc:
        report.outcome, report.exit_code, report.error = "breaker_open", 3, str(exc)
    except AuthFailed as exc:
        report.outcome, report.exit_code, report.error = "aborted", 3, f"authentication failed: {exc}"
        report.breaker_outcome = Outcome.AUTH_FAILURE
    except ExchangeError as exc:
        report.outcome, report.exit_code = "aborted", 3
        report.error = f"exchange unavailable: {describe(exc)}"
        report.breaker_outcome = Outcome.FAILURE
    except ConfigError as exc:  # e.g. a configured pair the exchange does not list: recorded, then exit 2
        report.outcome, report.exit_code, report.error = "config_error", 2, str(exc)
        raise
    except BaseException as exc:  # a bug or an interrupt: the journal must not say "ok"
        report.outcome, report.exit_code, report.error = "failed", 1, describe(exc)
        raise
    finally:  # the breaker's count and the cycle's record: one commit
        store.finish_cycle(cid, report.outcome, report.exit_code, report.summary(), deps.clock.now(),
                           first=lambda: note_cycle(store, breaker, report.breaker_outcome, deps.clock.now(), cid))
    return report


def _exit_legs(store: Store, positions: dict[str, Position]) -> dict[str, list[LocalOrder]]:
    """Our exit-ladder orders of each open position, oldest first (the ladder's step count and reference).

    Legs placed before a buy of ours that has filled since belong to an earlier exit that left dust: the
    strategy counts dust as flat and buys again, and that new exposure starts with no exit legs."""
    legs: dict[str, list[LocalOrder]] = {}
    for symbol, position in positions.items():
        if position.opened_at is None:
            continue
        rebought = store.last_filled_buy_created_at(symbol, position.opened_at)
        found = [o for o in store.orders(symbol=symbol, include_external=False, exit_kinds=LADDER_KINDS,
                                         created_since=position.opened_at)
                 if o.side is Side.SELL and (rebought is None or o.created_at > rebought)]
        if found:
            legs[symbol] = found
    return legs


def _intent_event(intent: Intent) -> Event:
    return Event(EventKind.INTENT_CREATED, intent.reason, intent.symbol, None,
                 {"side": intent.side.value, "price": dec_str(intent.price),
                  "quantity": dec_str(intent.quantity), "exit_kind": intent.exit_kind or ""})


def _drop_event(denial: Denial, stage: str) -> Event:
    kind = EventKind.ACTION_DEDUPED if denial.code.startswith("DEDUPE_") else EventKind.INTENT_DROPPED
    return Event(kind, denial.code, denial.intent.symbol, denial.detail.get("client_order_id"),
                 dict(denial.detail, side=denial.intent.side.value, stage=stage))


def _order_cap(snapshot: MarketSnapshot, risk: RiskParams) -> Callable[[SymbolRules], Decimal]:
    def cap(rules: SymbolRules) -> Decimal:
        rate = snapshot.quote_to_try(rules.quote)
        return risk.max_order_notional_try / rate if rate else ZERO

    return cap


def _write_gate(deps: Deps) -> Callable[[Side], str | None]:
    """Checked right before each submit: persisted trading state, then (live) the arming gates again."""

    def gate(side: Side) -> str | None:
        state = deps.store.trading_state()
        if state is TradingState.HALTED:
            return "STATE_HALTED"
        if state is TradingState.REDUCE_ONLY and side is Side.BUY:
            return "STATE_REDUCE_ONLY"
        if deps.mode.submits_blocked:
            return deps.mode.submits_blocked
        if deps.mode.live and deps.settings.missing_live_gates():
            return "GATE_NOT_ARMED"
        return None

    return gate
