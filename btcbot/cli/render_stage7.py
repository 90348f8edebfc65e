"""Stage-7 output: the cycle as `run` shows it, plus the orders it touched in the OMS vocabulary."""

from __future__ import annotations

from typing import Any

from btcbot.cli.render import console, cycle_json, render_cycle
from btcbot.cli.tables import WIDE, fit, plain_table
from btcbot.domain.display import scales_of
from btcbot.domain.money import dec_str
from btcbot.services.stage7 import OmsOrder, Stage7Result

__all__ = ["render_stage7", "stage7_json"]


def _oms_json(item: OmsOrder) -> dict[str, Any]:
    o = item.order
    return {"client_order_id": o.client_order_id, "exchange_order_id": o.exchange_order_id, "symbol": o.symbol,
            "side": o.side.value, "price": dec_str(o.price), "quantity": dec_str(o.quantity),
            "filled_quantity": dec_str(item.filled), "status": o.status.value, "oms_state": item.state.value}


def stage7_json(result: Stage7Result) -> dict[str, Any]:
    """`run --json`'s keys for the stage-7 cycle, plus `oms` (orders touched) and `first` (earlier cycles)."""
    data = cycle_json(result.report)
    data["exit_code"] = result.exit_code
    data["oms"] = [_oms_json(item) for item in result.oms]
    data["first"] = [cycle_json(r) for r in result.first]
    return data


def render_stage7(result: Stage7Result) -> None:
    for earlier in result.first:
        render_cycle(earlier)
    render_cycle(result.report)
    if not result.oms:
        return
    rules = result.report.snapshot.rules if result.report.snapshot else {}
    console.print("[bold]orders (OMS)[/]")
    wide = console.width >= WIDE  # client ids only where they fit whole (they are in --json always)
    table = plain_table([("symbol", "left"), ("side", "left"), ("price", "right"), ("quantity", "right"),
                         ("filled", "right"), ("oms state", "left")] + ([("client order id", "left")] if wide else []))
    for item in result.oms:
        o = item.order
        sc = scales_of(o.symbol, rules.get(o.symbol))
        table.add_row(o.symbol, o.side.value, sc.price_text(o.price, unit=True), sc.quantity_text(o.quantity),
                      sc.quantity_text(item.filled), item.state.value, *([o.client_order_id] if wide else []))
    console.print(fit(console, table))
