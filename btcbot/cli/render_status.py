"""`btcbot status` for a person: fits 80 columns without cutting anything, every amount in its asset's scale with
its unit, local short times (BTCBOT_PNL_TIMEZONE), a failed last run in red, an equity sparkline. Wider
terminals get more columns (client ids, creation times, replace steps). Formatting only."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table

from btcbot.cli.render import breaker_text, console
from btcbot.cli.tables import WIDE, fit, plain_table
from btcbot.domain.display import FIAT_SCALE, Scales, age, amount, money, pair_scales, scales_of, sparkline

__all__ = ["render_status"]
_STATE_STYLE = {"NORMAL": "green", "REDUCE_ONLY": "yellow", "HALTED": "bold red"}
_OUTCOMES = {"failed": "internal error", "breaker_open": "circuit breaker open", "config_error": "configuration error"}


class _Fmt:
    """Display scales of the pairs and assets in `status` data, and local times."""

    def __init__(self, data: dict[str, Any], now: datetime) -> None:
        self.tz = ZoneInfo(data.get("timezone") or "UTC")
        self.scales: dict[str, dict[str, Any]] = data.get("scales") or {}
        self.assets: dict[str, int] = data.get("asset_scales") or {"TRY": FIAT_SCALE}
        self.now = now

    def pair(self, symbol: str) -> Scales:
        s = self.scales.get(symbol)
        if s is None:
            return scales_of(symbol, None)
        return pair_scales(s["base"], s["quote"], int(s["price_scale"]), int(s["base_scale"]), int(s["quote_scale"]))

    def asset(self, name: str, value: str) -> str:
        return amount(Decimal(value), self.assets.get(name, 8), strip=name not in ("TRY",))

    def time(self, text: str | None, seconds: bool = False) -> str:
        if not text:
            return "-"
        local = datetime.fromisoformat(text).astimezone(self.tz)
        return local.strftime("%d %b %H:%M:%S" if seconds else "%d %b %H:%M")

    def age(self, text: str) -> str:
        return age(datetime.fromisoformat(text), self.now)

    def zone(self) -> str:
        return f"{self.tz.key} ({self.now.astimezone(self.tz).strftime('%z')[:3]})"


def render_status(data: dict[str, Any], out: Console | None = None, now: datetime | None = None) -> None:
    """Print `status` data (collect_status) on `out` (default: stdout), as of `now`."""
    con = out or console
    fmt = _Fmt(data, now or datetime.now(UTC))
    wide = con.width >= WIDE
    con.print(_summary(data, fmt, con.width))
    for part in (_open_orders(data["open_orders"], fmt, wide, "open orders"),
                 _open_orders(data["unresolved_orders"], fmt, wide, "unresolved orders"),
                 _positions(data, fmt), _balances(data, fmt), _chains(data, fmt, wide), _fills(data, fmt, wide)):
        for renderable in part:
            con.print(fit(con, renderable))


# -- the summary block: label, value (values wrap under their own column, never cut) ----------------------
def _summary(data: dict[str, Any], fmt: _Fmt, width: int) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    mode = data["mode"]
    grid.add_row("btcbot", f"{escape(mode['label'])} on {mode['venue']} · kill switch "
                           f"{'on' if mode['kill_switch'] else 'off'} · times {fmt.zone()}")
    _trading(grid, data, fmt)
    _last_run(grid, data, fmt)
    _money(grid, data, fmt, width)
    breaker = data["circuit_breaker"]
    grid.add_row("breaker", f"{breaker_text(breaker)} · lock "
                            f"{'held (a cycle is running)' if data['locks']['instance_lock_held'] else 'free'}")
    for endpoint, until in data["locks"]["rate_limit_blocks"].items():
        grid.add_row("", f"[yellow]rate-limited[/] {escape(endpoint)} until {fmt.time(until, seconds=True)} "
                         "(after an HTTP 429; not called until then)")
    counts = data["counts"]
    grid.add_row("history", " · ".join(f"{counts[k]:,} {k}" for k in ("cycles", "orders", "fills", "events")
                                       if k in counts))
    return grid


def _trading(grid: Table, data: dict[str, Any], fmt: _Fmt) -> None:
    mode = data["mode"]
    state = mode["trading_state"]
    text = f"[{_STATE_STYLE.get(state, 'bold')}]{state}[/]"
    if mode.get("trading_state_since"):
        text += f" since {fmt.time(mode['trading_state_since'])}"
    if mode.get("trading_state_reason"):
        text += f": {escape(mode['trading_state_reason'])}"
    grid.add_row("trading", text)
    risk = data.get("risk", {})
    for breach in risk.get("breaches", []):
        grid.add_row("", f"[red]risk breach[/] {escape(breach['reason'])} (resume refuses until it clears, or "
                         "--force)")
    if risk.get("unpriced_assets"):
        grid.add_row("", f"[yellow]drawdown not evaluated[/]: no TRY mark for {', '.join(risk['unpriced_assets'])} "
                         "(add its TRY pair to BTCBOT_SYMBOLS)")


def _last_run(grid: Table, data: dict[str, Any], fmt: _Fmt) -> None:
    last = data["last_cycle"]
    if not last:
        grid.add_row("last run", "none yet: run `btcbot run`")
        return
    when = fmt.time(last["finished_at"] or last["started_at"], seconds=True)
    took = ""
    if last["finished_at"]:
        seconds = (datetime.fromisoformat(last["finished_at"]) - datetime.fromisoformat(last["started_at"]))
        took = f" · took {_duration(seconds.total_seconds())}"
    head = f"#{last['id']} stage {last['stage']} · "
    if last["exit_code"] == 0:
        grid.add_row("last run", f"{head}[green]{last['outcome']}[/] (exit 0) · {when}{took}")
        return
    outcome = _OUTCOMES.get(last["outcome"], last["outcome"] or "did not finish")
    code = "?" if last["exit_code"] is None else last["exit_code"]
    grid.add_row("last run", f"{head}[bold red]FAILED: {escape(str(outcome))}, exit {code}[/] · {when}{took}")
    if last.get("error"):
        grid.add_row("", f"[red]{escape(last['error'])}[/]")
    grid.add_row("", f"last ok run {fmt.time(data.get('last_cycle_ok_at'), seconds=True)}"
                 if data.get("last_cycle_ok_at") else "no run has completed yet")


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _money(grid: Table, data: dict[str, Any], fmt: _Fmt, width: int) -> None:
    pnl = data["pnl"]
    history = [Decimal(e["equity_try"]) for e in data.get("equity_history", [])]
    if pnl.get("equity") is None:
        grid.add_row("equity", "not valued yet (needs a cycle that prices every asset)")
    else:
        shown = history[-max(10, min(len(history), width - 48)):]
        spark = f"  {sparkline(shown)} last {len(shown)} cycles" if len(shown) > 1 else ""
        grid.add_row("equity", f"{money(Decimal(pnl['equity']))}{spark}")
    grid.add_row("pnl", f"today {money(Decimal(pnl['realized_today']), sign=True)} · total "
                        f"{money(Decimal(pnl['realized_total']), sign=True)} · fees "
                        f"{money(Decimal(pnl['fees_total']))}")
    if pnl.get("peak_equity") is not None:
        grid.add_row("", f"peak {money(Decimal(pnl['peak_equity']))} · drawdown "
                         f"{amount(Decimal(pnl['drawdown_pct']), 2)} %")


# -- tables -------------------------------------------------------------------------------------------------
Section = list[RenderableType]


def _unit(symbols: list[str], fmt: _Fmt) -> str | None:
    """The one quote currency of these pairs, or None when they differ."""
    quotes = {fmt.pair(s).quote for s in symbols}
    return quotes.pop() if len(quotes) == 1 else None


def _title(text: str, symbols: list[str], fmt: _Fmt, what: str) -> str:
    """The title names the unit of the table's amounts once: `in TRY`, or per quote `in TRY (BTCTRY, ETHTRY),
    USDT (BTCUSDT)` when the pairs' quotes differ (cells stay short enough for 80 columns)."""
    by_quote: dict[str, list[str]] = {}
    for symbol in dict.fromkeys(symbols):
        by_quote.setdefault(fmt.pair(symbol).quote, []).append(symbol)
    if len(by_quote) == 1:
        return f"[bold]{text}[/] · {what} in {next(iter(by_quote))}"
    units = ", ".join(f"{quote} ({', '.join(names)})" for quote, names in sorted(by_quote.items()))
    return f"[bold]{text}[/] · {what} in {units}"


def _open_orders(rows: list[dict[str, Any]], fmt: _Fmt, wide: bool, title: str) -> Section:
    if not rows:
        return [f"[bold]{title}[/] none"] if title == "open orders" else []
    symbols = [r["symbol"] for r in rows]
    columns = [("age", "right"), ("symbol", "left"), ("side", "left"), ("price", "right"), ("quantity", "right"),
               ("filled", "right"), ("status", "left")]
    if wide:
        columns += [("created", "left"), ("client order id", "left")]
    table = plain_table(columns)
    for r in rows:
        sc = fmt.pair(r["symbol"])
        cells = [fmt.age(r["created_at"]), r["symbol"] + (" (ext)" if r.get("external") else ""), r["side"],
                 sc.price_text(Decimal(r["price"])), sc.quantity_text(Decimal(r["quantity"])),
                 sc.quantity_text(Decimal(r["filled_quantity"])), r["status"]]
        if wide:
            cells += [fmt.time(r["created_at"]), r["client_order_id"]]
        table.add_row(*cells)
    what = "outcome unknown, prices" if title == "unresolved orders" else "prices"
    return [_title(f"{title} ({len(rows)})", symbols, fmt, what), table]


def _positions(data: dict[str, Any], fmt: _Fmt) -> Section:
    rows = data["positions"]
    if not rows:
        return ["[bold]positions[/] none"]
    unit = _unit([r["symbol"] for r in rows], fmt)
    table = plain_table([("symbol", "left"), ("quantity", "right"), ("avg cost", "right"), ("mark", "right"),
                    ("value" if unit == "TRY" else "value TRY", "right"), ("unrealized", "right"),
                          ("realized", "right"), ("fees", "right")])
    trails = []
    for r in rows:
        sc = fmt.pair(r["symbol"])

        def q(key: str, sign: bool = False, row: dict[str, Any] = r, sc: Scales = sc) -> str:
            return "-" if row.get(key) is None else sc.quote_text(Decimal(row[key]), unit=False, sign=sign)

        def p(key: str, row: dict[str, Any] = r, sc: Scales = sc) -> str:
            return "-" if row.get(key) is None else sc.price_text(Decimal(row[key]))

        value = "-" if r.get("value_try") is None else amount(Decimal(r["value_try"]), FIAT_SCALE)
        table.add_row(r["symbol"], sc.quantity_text(Decimal(r["quantity"])), p("avg_cost"), p("mark"), value,
                      q("unrealized_pnl", sign=True), q("realized_pnl", sign=True), q("fees_paid"))
        if r.get("trail_state") not in (None, "off", "flat"):
            trails.append(_trail_line(r, sc))
    return [_title(f"positions ({len(rows)})", [r["symbol"] for r in rows], fmt, "amounts"), table, *trails]


def _trail_line(r: dict[str, Any], sc: Scales) -> str:
    text = f"  {r['symbol']} trailing stop {r['trail_state']}"
    for key, label in (("trail_mark", "mark"), ("trail_trigger_price", "trigger"),
                       ("trail_activation_price", "arms at")):
        if r.get(key) is not None:
            text += f" · {label} {sc.price_text(Decimal(r[key]), unit=True)}"
    return text


def _balances(data: dict[str, Any], fmt: _Fmt) -> Section:
    rows = data["balances"]
    if not rows:
        return ["[bold]balances[/] none yet"]
    when = fmt.time(rows[0].get("as_of"), seconds=True)
    table = plain_table([("asset", "left"), ("free", "right"), ("locked", "right"), ("total", "right")])
    for r in rows:
        table.add_row(r["asset"], *(fmt.asset(r["asset"], r[k]) for k in ("free", "locked", "total")))
    return [f"[bold]balances[/] at {when}, read as that cycle began (before its orders)", table]


def _chains(data: dict[str, Any], fmt: _Fmt, wide: bool) -> Section:
    rows = data.get("replace_chains") or []
    if not rows:
        return []
    columns = [("id", "right"), ("symbol", "left"), ("side", "left"), ("state", "left"), ("trigger", "left"),
               ("updated", "left")]
    if wide:
        columns.append(("step (old → new)", "left"))
    table = plain_table(columns)
    for c in rows:
        cells = [str(c["id"]), c["symbol"], c["side"], c["state"], c["trigger"], fmt.time(c["updated_at"])]
        if wide:
            cells.append(f"{c['old_client_order_id']} → {c['new_client_order_id'] or 'pending'}")
        table.add_row(*cells)
    return [f"[bold]replace chains[/] (latest {len(rows)})", table]


def _fills(data: dict[str, Any], fmt: _Fmt, wide: bool) -> Section:
    if "fills" not in data:
        return []
    rows = data["fills"]
    if not rows:
        return ["[bold]fills[/] none"]
    columns = [("time", "left"), ("symbol", "left"), ("side", "left"), ("price", "right"), ("quantity", "right"),
               ("fee+tax", "right")]
    if wide:
        columns += [("trade id", "left"), ("client order id", "left")]
    table = plain_table(columns)
    for f in rows:
        sc = fmt.pair(f["symbol"])
        cells = [fmt.time(f["timestamp"]), f["symbol"], f["side"], sc.price_text(Decimal(f["price"]), unit=True),
                 sc.quantity_text(Decimal(f["quantity"])),
                 sc.quote_text(abs(Decimal(f["fee"])) + abs(Decimal(f["tax"])))]
        if wide:
            cells += [f["trade_id"], f.get("client_order_id") or "-"]
        table.add_row(*cells)
    return [f"[bold]fills[/] (last {len(rows)})", table]
