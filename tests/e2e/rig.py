"""Rig for end-to-end tests: the BTCTurk-shaped simulator server on 127.0.0.1 and the real CLI,
live-armed against it (BTCBOT_EXCHANGE=btcturk, base URL pointed at the server)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from btcbot.adapters.sim.faults import FaultPlan
from btcbot.adapters.sim.server import SimServer
from btcbot.adapters.sqlite.store import Store
from btcbot.cli import app
from btcbot.domain.models import ExchangeOrderStatus
from btcbot.domain.order_fsm import OrderStatus

SYMBOLS = ["BTCTRY", "ETHTRY", "USDTTRY"]
runner = CliRunner()

# venue status -> the local statuses that agree with it
AGREES = {
    ExchangeOrderStatus.UNTOUCHED: {OrderStatus.OPEN, OrderStatus.CANCEL_REQUESTED},
    ExchangeOrderStatus.PARTIAL: {OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCEL_REQUESTED},
    ExchangeOrderStatus.CLOSED: {OrderStatus.FILLED},
    ExchangeOrderStatus.CANCELED: {OrderStatus.CANCELED},
}


@dataclass
class Rig:
    server: SimServer
    state: Path
    env: dict[str, str]

    def run(self, *args: str, **env: str) -> Any:
        result = runner.invoke(app, list(args), env={**self.env, **env})
        return result

    def cycle(self, **env: str) -> dict[str, Any]:
        result = self.run("run", "--json", **env)
        assert result.exit_code in (0, 3), result.output
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    def set_faults(self, spec: str) -> None:
        self.server.set_faults(FaultPlan.parse(spec))

    def store(self) -> Store:
        return Store.open(self.state, "btcturk")

    # -- invariants ----------------------------------------------------------------------------------
    def posted_client_ids(self) -> list[str]:
        return [e["client_order_id"] for e in self.server.requests()
                if e["method"] == "POST" and e["path"].lower().startswith("/api/v1/order") and e["client_order_id"]]

    def assert_no_client_id_twice(self) -> None:
        counts = Counter(self.posted_client_ids())
        assert [cid for cid, n in counts.items() if n > 1] == []

    def assert_no_request_inside_block(self) -> None:
        assert [e for e in self.server.requests() if e["blocked"]] == []

    def ours_open_by_side(self) -> Counter[tuple[str, str]]:
        return Counter((o.symbol, o.side.value) for o in self.server.sim.open_orders(SYMBOLS)
                       if (o.client_order_id or "").startswith("bb"))

    def assert_one_live_order_per_side(self) -> None:
        assert [k for k, n in self.ours_open_by_side().items() if n > 1] == []

    def assert_venue_orders_known_locally(self) -> None:
        store = self.store()
        try:
            for symbol in SYMBOLS:
                for report in self.server.sim.all_orders(symbol, start=None, limit=100_000):
                    cid = report.client_order_id or ""
                    if not cid.startswith("bb"):
                        continue
                    local = store.order(cid)
                    assert local is not None, f"venue order {cid} unknown locally"
                    assert local.exchange_order_id == report.exchange_order_id
                    assert local.status in AGREES[report.status], (cid, local.status, report.status)
            assert store.orders([OrderStatus.UNKNOWN, OrderStatus.SUBMITTING]) == []
        finally:
            store.close()

    def assert_positions_match_venue_fills(self) -> None:
        status = json.loads(self.run("status", "--json").stdout)
        fills = [f for f in self.server.sim.fills(SYMBOLS, since=None) if (f.client_order_id or "").startswith("bb")]
        for symbol in SYMBOLS:
            mine = [f for f in fills if f.symbol == symbol]
            net = sum((f.quantity if f.side.value == "buy" else -f.quantity for f in mine), Decimal(0))
            fees = sum((f.fee + f.tax for f in mine), Decimal(0))
            row = next((p for p in status["positions"] if p["symbol"] == symbol), None)
            assert Decimal(row["quantity"] if row else "0") == net, symbol
            assert Decimal(row["fees_paid"] if row else "0") == fees, symbol

    def wind_down(self, max_cycles: int = 30) -> None:
        """Faults off, halt, cancel everything of ours and settle, so that the venue stops changing."""
        import time

        self.set_faults("")
        assert self.run("halt", "--reason", "e2e wind-down").exit_code == 0
        for _ in range(max_cycles):
            self.cycle(BTCBOT_STALE_ORDER_SECONDS="1")
            store = self.store()
            pending = store.orders([OrderStatus.UNKNOWN, OrderStatus.SUBMITTING, OrderStatus.OPEN,
                                    OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCEL_REQUESTED])
            store.close()
            if not pending and not self.ours_open_by_side():
                return
            time.sleep(1.1)
        raise AssertionError(f"orders still pending after wind-down: {pending}")


