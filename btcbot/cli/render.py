"""Rich tables and JSON shapes; formatting only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from btcbot.cli.console import make_console
from btcbot.cli.tables import fit, plain_table
from btcbot.domain.display import json_amount, scales_of
from btcbot.domain.models import Intent, LocalOrder
from btcbot.domain.money import dec_str, to_decimal
from btcbot.domain.symbols import SymbolRules
from btcbot.services.breaker import breaker_json

if TYPE_CHECKING:  # `status` renders without importing the cycle
    from btcbot.services.cycle import CycleReport
    from btcbot.services.execution import ExecutionReport
    from btcbot.services.recovery import Difference, RecoveryReport

__all__ = ["breaker_text", "console", "cycle_json", "recovery_json", "render_checks", "render_cycle", "render_recovery"]

console = make_console()


def cycle_json(report: CycleReport) -> dict[str, Any]:
    """`run --json`: what was wanted (intents, priced and sized as they would be placed), what was dropped
    (with its code) and what was done (`orders`: the orders as placed, with their result)."""
    ex = report.execution
    rules = report.snapshot.rules if report.snapshot else {}
    return {
        "cycle_id": report.cycle_id, "stage": report.stage, "outcome": report.outcome,
        "exit_code": report.exit_code, "error": report.error, "mode": report.mode.label,
        "venue": report.mode.venue, "missing_gates": list(report.mode.missing_gates),
        "symbols": list(report.symbols), "trading_state": report.trading_state.value,
        "stale": dict(report.snapshot.stale) if report.snapshot else {},
        "intents": [dict(_placed(i, rules), reason=i.reason) for i in report.intents],
        "dropped": [dict(_placed(d.intent, rules), code=d.code, reason=d.reason,
                         client_order_id=d.detail.get("client_order_id")) for d in report.denials],
        "orders": [_order_result(o, result, ex) for o, result in _done(ex)] if ex else [],
        "submitted": [o.client_order_id for o in ex.submitted] if ex else [],
        "cancel_requested": [o.client_order_id for o in ex.cancel_requested] if ex else [],
        "unknown": [o.client_order_id for o in ex.unknown] if ex else [],
        "rejected": [o.client_order_id for o in ex.rejected] if ex else [],
        "new_fills": [{"trade_id": f.trade_id, "symbol": f.symbol, "side": f.side.value, "price": dec_str(f.price),
                       "quantity": dec_str(f.quantity)} for f in (report.fills.new if report.fills else [])],
        "timings_ms": {k: round(v * 1000, 1) for k, v in report.timings.items()},
        "account": _account_json(report),
        "replace_chains": [{"id": c.id, "symbol": c.symbol, "side": c.side.value, "old": c.old_client_order_id,
                            "new": c.new_client_order_id, "state": c.state.value, "trigger": c.trigger}
                           for c in report.chains],
    }


def _placed(intent: Intent, rules: dict[str, SymbolRules]) -> dict[str, Any]:
    """An intent's price and quantity as preflight would place them (the pair's scales, side-aware price,
    quantity down): never the strategy's raw division artefacts."""
    found = rules.get(intent.symbol)
    price, quantity = scales_of(intent.symbol, found).place(intent.price, intent.quantity, intent.side, found)
    return {"symbol": intent.symbol, "side": intent.side.value, "price": dec_str(price),
            "quantity": dec_str(quantity)}


_RESULTS = (("submitted", "placed"), ("rejected", "rejected"), ("unknown", "unknown"),
            ("not_placed", "not placed"), ("cancel_requested", "cancel requested"))


def _done(ex: ExecutionReport) -> list[tuple[LocalOrder, str]]:
    return [(o, result) for name, result in _RESULTS for o in getattr(ex, name)]


def _order_result(o: LocalOrder, result: str, ex: ExecutionReport) -> dict[str, Any]:
    return {"client_order_id": o.client_order_id, "symbol": o.symbol, "side": o.side.value, "price": dec_str(o.price),
            "quantity": dec_str(o.quantity), "status": o.status.value, "result": result,
            "code": ex.codes.get(o.client_order_id, "")}


def _account_json(report: CycleReport) -> dict[str, Any] | None:
    account = report.valuation.account if report.valuation else None
    if account is None:
        return None
    return {"equity_try": json_amount(account.equity_try),  # a valuation: every figure at most 8 decimals
            "cash_free_try": json_amount(account.cash.free), "cash_locked_try": json_amount(account.cash.locked),
            "holdings": [{"asset": h.asset, "free": json_amount(h.free), "locked": json_amount(h.locked),
                          "value_try": json_amount(h.value_try)} for h in account.holdings.values()],
            "unpriced": list(account.unpriced), "sell_only": account.sell_only, "untradable": account.untradable}


def render_cycle(report: CycleReport) -> None:
    """The cycle for a person: the orders as placed and the intents dropped (with their code), amounts in the
    pair's scales with their units."""
    style = "green" if report.exit_code == 0 else "red"
    console.print(f"[bold]btcbot cycle {report.cycle_id}[/] · stage {report.stage} · [bold]{report.mode.label}[/]"
                  f" on {report.mode.venue} · {', '.join(report.symbols)} · [{style}]{report.outcome}[/]"
                  + (f" (exit {report.exit_code})" if report.exit_code else ""))
    if report.mode.missing_gates:
        console.print(f"  not live because: {'; '.join(report.mode.missing_gates)}", style="dim")
    if report.error:
        console.print(f"  [red]{escape(report.error)}[/]")
    for symbol, reason in (report.snapshot.stale if report.snapshot else {}).items():
        console.print(f"  [yellow]{symbol}: skipped, {escape(reason)}[/]")
    rules = report.snapshot.rules if report.snapshot else {}
    rows = _cycle_rows(report, rules)
    if rows:
        table = plain_table([("symbol", "left"), ("side", "left"), ("price", "right"), ("quantity", "right"),
                             ("result", "left")])
        for row in rows:
            table.add_row(*row)
        console.print(fit(console, table))
    ex = report.execution
    if ex is not None:
        console.print(f"  orders: {len(ex.submitted)} placed, {len(ex.cancel_requested)} cancel requested, "
                      f"{len(ex.rejected)} rejected, {len(ex.unknown)} unknown · fills: "
                      f"{len(report.fills.new) if report.fills else 0} new")
    for fill in report.fills.new if report.fills else []:
        sc = scales_of(fill.symbol, rules.get(fill.symbol))
        console.print(f"  fill {fill.symbol} {fill.side.value} {sc.quantity_text(fill.quantity)} @ "
                      f"{sc.price_text(fill.price, unit=True)} · fee+tax "
                      f"{sc.quote_text(abs(fill.fee) + abs(fill.tax))}", style="cyan")
    for chain in report.chains:
        console.print(f"  replace {chain.symbol} {chain.side.value} {chain.old_client_order_id} → "
                      f"{chain.new_client_order_id or 'pending'} {chain.state.value} ({chain.trigger})",
                      style="magenta")


def _cycle_rows(report: CycleReport, rules: dict[str, SymbolRules]) -> list[tuple[str, ...]]:
    """One row per order placed, rejected, left unknown or asked to cancel, then per intent dropped."""
    rows: list[tuple[str, ...]] = []
    ex = report.execution
    for o, result in _done(ex) if ex else []:
        sc = scales_of(o.symbol, rules.get(o.symbol))
        code = ex.codes.get(o.client_order_id, "") if ex else ""
        text = f"{result} {o.client_order_id}" + (f" {code}" if code and result != "placed" else "")
        rows.append((o.symbol, o.side.value, sc.price_text(o.price, unit=True), sc.quantity_text(o.quantity),
                     text))
    for denial in report.denials:
        placed = _placed(denial.intent, rules)
        sc = scales_of(denial.intent.symbol, rules.get(denial.intent.symbol))
        rows.append((denial.intent.symbol, denial.intent.side.value,
                     sc.price_text(to_decimal(placed["price"]), unit=True),
                     sc.quantity_text(to_decimal(placed["quantity"])), f"dropped {denial.code}"))
    return rows


def breaker_text(breaker: dict[str, Any]) -> str:
    failures = f"{breaker['failures']} failure{'' if breaker['failures'] == 1 else 's'}"
    text = f"{breaker['state']} ({failures} in the window)"
    if breaker["state"] == "open":
        text = (f"[red]open[/] since {breaker['opened_at']} ({failures}): runs exit 3 without "
                f"calling the exchange until the probe at {breaker['next_probe_at']}")
    elif breaker["state"] == "half_open":
        text = "[yellow]half-open[/]: the next cycle is the probe"
    return text


def _diff_json(diff: Difference) -> dict[str, Any]:
    return {"kind": diff.kind, "symbol": diff.symbol, "subject": diff.subject, "local": diff.local,
            "venue": diff.venue, "action": diff.action, "appliable": diff.appliable}


def recovery_json(report: RecoveryReport) -> dict[str, Any]:
    data = {"differences": [_diff_json(d) for d in report.differences], "applied": report.applied,
            "remaining": [_diff_json(d) for d in report.remaining], "exit_code": report.exit_code,
            "circuit_breaker": breaker_json(report.breaker)}
    if report.exit_code:  # like every --json failure: {"error", "exit_code"}
        pending = report.remaining if report.applied else report.differences
        data["error"] = (f"{len(pending)} difference(s) " + ("remain after --apply" if report.applied
                                                               else "not applied (use --apply)"))
    return data


def render_recovery(report: RecoveryReport) -> None:
    if report.breaker.state.value != "closed":
        console.print(f"[bold]breaker[/] {breaker_text(breaker_json(report.breaker))} (reconcile only reads "
                      "the exchange and fixes the journal, so it runs anyway)")
    if not report.differences:
        console.print("[green]reconcile: local state matches the exchange[/]")
        return
    table = Table(title="differences (local vs exchange)", title_justify="left", header_style="bold")
    for col in ("kind", "symbol", "subject", "local", "exchange", "action"):
        table.add_column(col)
    for d in report.differences:
        table.add_row(d.kind, d.symbol, d.subject, d.local, d.venue, d.action)
    console.print(table)
    if not report.applied:
        console.print("run [bold]btcbot reconcile --apply[/] to fix them (each fix is recorded as an event)")
    elif report.remaining:
        console.print(f"[yellow]{len(report.remaining)} difference(s) remain after --apply[/]")
    else:
        console.print("[green]all differences fixed[/]")


def render_checks(checks: list[Any]) -> None:
    for check in checks:
        mark = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
        console.print(f"{mark} {check.name:<9} {check.detail}")
