"""Rich tables and JSON shapes; formatting only."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from btcbot.domain.money import dec_str
from btcbot.services.breaker import breaker_json

if TYPE_CHECKING:  # `status` renders without importing the cycle
    from btcbot.services.cycle import CycleReport
    from btcbot.services.recovery import Difference, RecoveryReport

__all__ = ["cycle_json", "recovery_json", "render_checks", "render_cycle", "render_recovery", "render_status"]

console = Console(highlight=False)


def cycle_json(report: CycleReport) -> dict[str, Any]:
    ex = report.execution
    return {
        "cycle_id": report.cycle_id, "stage": report.stage, "outcome": report.outcome,
        "exit_code": report.exit_code, "error": report.error, "mode": report.mode.label,
        "venue": report.mode.venue, "missing_gates": list(report.mode.missing_gates),
        "symbols": list(report.symbols), "trading_state": report.trading_state.value,
        "stale": dict(report.snapshot.stale) if report.snapshot else {},
        "intents": [{"symbol": i.symbol, "side": i.side.value, "price": dec_str(i.price),
                     "quantity": dec_str(i.quantity), "reason": i.reason} for i in report.intents],
        "dropped": [{"symbol": d.intent.symbol, "side": d.intent.side.value, "code": d.code, "reason": d.reason}
                    for d in report.denials],
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


def _account_json(report: CycleReport) -> dict[str, Any] | None:
    account = report.valuation.account if report.valuation else None
    if account is None:
        return None
    return {"equity_try": dec_str(account.equity_try) if account.equity_try is not None else None,
            "cash_free_try": dec_str(account.cash.free), "cash_locked_try": dec_str(account.cash.locked),
            "holdings": [{"asset": h.asset, "free": dec_str(h.free), "locked": dec_str(h.locked),
                          "value_try": dec_str(h.value_try) if h.value_try is not None else None}
                         for h in account.holdings.values()],
            "unpriced": list(account.unpriced), "sell_only": account.sell_only, "untradable": account.untradable}


def render_cycle(report: CycleReport) -> None:
    data = cycle_json(report)
    style = "green" if report.exit_code == 0 else "red"
    console.print(f"[bold]btcbot cycle {report.cycle_id}[/] stage {report.stage} · [bold]{report.mode.label}[/]"
                  f" on {report.mode.venue} · {', '.join(report.symbols)} · [{style}]{report.outcome}[/]")
    if report.mode.missing_gates:
        console.print(f"  not live because: {'; '.join(report.mode.missing_gates)}", style="dim")
    if report.error:
        console.print(f"  [red]{report.error}[/]")
    for symbol, reason in data["stale"].items():
        console.print(f"  [yellow]{symbol}: skipped, {reason}[/]")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("symbol", "side", "price", "quantity", "result"):
        table.add_column(col)
    dropped = {(d.intent.symbol, d.intent.side): d.reason for d in report.denials}
    for intent in report.intents:
        result = dropped.get((intent.symbol, intent.side), "accepted")
        table.add_row(intent.symbol, intent.side.value, _short(intent.price), _short(intent.quantity), result)
    if report.intents:
        console.print(table)
    ex = report.execution
    if ex is not None:
        console.print(f"  orders: {len(ex.submitted)} placed, {len(ex.cancel_requested)} cancel requested, "
                      f"{len(ex.rejected)} rejected, {len(ex.unknown)} unknown · fills: "
                      f"{len(report.fills.new) if report.fills else 0} new")
    for fill in report.fills.new if report.fills else []:
        console.print(f"  fill {fill.symbol} {fill.side.value} {dec_str(fill.quantity)} @ {dec_str(fill.price)} "
                      f"fee {dec_str(fill.fee)} tax {dec_str(fill.tax)}", style="cyan")
    for chain in report.chains:
        console.print(f"  replace {chain.symbol} {chain.side.value} {chain.old_client_order_id} → "
                      f"{chain.new_client_order_id or '…'} {chain.state.value} ({chain.trigger})", style="magenta")


def _short(value: Decimal) -> str:
    """Display only: intents are not quantized yet (preflight does that), so show 8 decimals at most."""
    step = Decimal("1e-8")
    return dec_str(value.quantize(step, rounding=ROUND_HALF_EVEN) if value != value.quantize(step) else value)


def render_status(data: dict[str, Any]) -> None:
    mode = data["mode"]
    console.print(f"[bold]mode[/] {mode['label']} on {mode['venue']} · trading state {mode['trading_state']} · "
                  f"kill switch {'on' if mode['kill_switch'] else 'off'}")
    if mode.get("trading_state_since"):
        console.print(f"  {mode['trading_state']} since {mode['trading_state_since']}: {mode['trading_state_reason']}")
    for breach in data.get("risk", {}).get("breaches", []):
        console.print(f"[red]risk breach[/] {breach['reason']} (resume refuses until it clears, or --force)")
    if data.get("risk", {}).get("unpriced_assets"):
        console.print(f"[yellow]drawdown not evaluated[/]: no TRY mark for {', '.join(data['risk']['unpriced_assets'])}"
                      " (add its TRY pair to BTCBOT_SYMBOLS)")
    last = data["last_cycle"]
    if last:
        console.print(f"[bold]last cycle[/] #{last['id']} stage {last['stage']} {last['outcome']} "
                      f"(exit {last['exit_code']}) at {last['finished_at'] or last['started_at']}")
    else:
        console.print("[bold]last cycle[/] none yet: run `btcbot run`")
    _table("open orders", data["open_orders"],
           ("client_order_id", "symbol", "side", "price", "quantity", "filled_quantity", "status"))
    _table("unresolved orders", data["unresolved_orders"],
           ("client_order_id", "symbol", "side", "price", "quantity", "status"))
    _table("positions", data["positions"],
           ("symbol", "quantity", "avg_cost", "realized_pnl", "unrealized_pnl", "fees_paid", "trail_state",
            "trail_mark", "trail_trigger_price"))
    _table("balances", data["balances"], ("asset", "free", "locked", "total"))
    pnl = data["pnl"]
    console.print(f"[bold]pnl[/] realized today {pnl['realized_today']} · total {pnl['realized_total']} · fees "
                  f"{pnl['fees_total']} · equity {pnl['equity']} (peak {pnl['peak_equity']}, drawdown "
                  f"{pnl['drawdown_pct']}%)")
    breaker = data["circuit_breaker"]
    console.print(f"[bold]breaker[/] {_breaker_text(breaker)} · lock "
                  f"{'held' if data['locks']['instance_lock_held'] else 'free'} · counts {data['counts']}")
    for endpoint, until in data["locks"]["rate_limit_blocks"].items():
        console.print(f"[yellow]rate-limited[/] {endpoint} until {until} (after an HTTP 429; not called until then)")
    chains = [dict(c, step=f"{c['old_client_order_id']} → {c['new_client_order_id'] or '…'}")
              for c in data.get("replace_chains", [])]
    _table("replace chains (latest)", chains, ("id", "symbol", "side", "step", "state", "trigger", "updated_at"))
    if "fills" in data:
        _table("fills", data["fills"], ("timestamp", "symbol", "side", "price", "quantity", "fee", "tax"))


def _breaker_text(breaker: dict[str, Any]) -> str:
    text = f"{breaker['state']} ({breaker['failures']} failures in the window)"
    if breaker["state"] == "open":
        text = (f"[red]open[/] since {breaker['opened_at']} ({breaker['failures']} failures): runs exit 3 without "
                f"calling the exchange until the probe at {breaker['next_probe_at']}")
    elif breaker["state"] == "half_open":
        text = "[yellow]half-open[/]: the next cycle is the probe"
    return text


def _table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    if not rows:
        console.print(f"[bold]{title}[/] none")
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(row.get(c)) if row.get(c) is not None else "-" for c in columns))
    console.print(table)




def _diff_json(diff: Difference) -> dict[str, Any]:
    return {"kind": diff.kind, "symbol": diff.symbol, "subject": diff.subject, "local": diff.local,
            "venue": diff.venue, "action": diff.action, "appliable": diff.appliable}


def recovery_json(report: RecoveryReport) -> dict[str, Any]:
    return {"differences": [_diff_json(d) for d in report.differences], "applied": report.applied,
            "remaining": [_diff_json(d) for d in report.remaining], "exit_code": report.exit_code,
            "circuit_breaker": breaker_json(report.breaker)}


def render_recovery(report: RecoveryReport) -> None:
    if report.breaker.state.value != "closed":
        console.print(f"[bold]breaker[/] {_breaker_text(breaker_json(report.breaker))} (reconcile only reads "
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
