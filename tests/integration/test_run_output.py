"""What a cycle prints is what it did (issue 9, item 2): the orders as placed (preflighted price and quantity,
client id, result) and the intents dropped with their code; amounts in the pair's scales with units in the table,
and no JSON amount with more decimals than the venue allows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from btcbot.adapters.sqlite.store import Store
from btcbot.cli import app
from btcbot.domain.display import amount
from btcbot.services.status_view import all_rules

runner = CliRunner()
AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")


def _amount_strings(data: Any, path: str = "") -> list[tuple[str, str]]:
    """Every decimal-looking string in a JSON document, with where it is."""
    if isinstance(data, dict):
        return [x for k, v in data.items() for x in _amount_strings(v, f"{path}.{k}")]
    if isinstance(data, list):
        return [x for i, v in enumerate(data) for x in _amount_strings(v, f"{path}[{i}]")]
    return [(path, data)] if isinstance(data, str) and AMOUNT.match(data) else []


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


@pytest.fixture
def cycles(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "300")
    out = []
    for _ in range(6):
        result = runner.invoke(app, ["run", "--json"])
        assert result.exit_code == 0, result.output
        out.append(json.loads(result.stdout))
    return out


def test_run_json_orders_are_the_journals_orders_as_placed(cycles: list[dict[str, Any]], isolated_env: Path) -> None:
    store = Store.open_existing(isolated_env, "sim")
    try:
        placed = [o for c in cycles for o in c["orders"]]
        assert placed and {o["result"] for o in placed} >= {"placed"}
        for o in placed:
            row = store.order(o["client_order_id"])
            assert row is not None
            assert (Decimal(o["price"]), Decimal(o["quantity"])) == (row.price, row.quantity)
            assert o["symbol"] == row.symbol and o["side"] == row.side.value
        assert [o["client_order_id"] for c in cycles for o in c["orders"] if o["result"] == "placed"] == [
            cid for c in cycles for cid in c["submitted"]]
    finally:
        store.close()


def test_run_json_amounts_never_exceed_their_assets_scale(cycles: list[dict[str, Any]], isolated_env: Path) -> None:
    store = Store.open_existing(isolated_env, "sim")
    rules = all_rules(store, datetime.now(UTC))
    store.close()
    checked = 0
    for cycle in cycles:
        for path, text in _amount_strings(cycle):
            assert _decimals(text) <= 8, (path, text)
        for item in cycle["intents"] + cycle["dropped"]:
            r = rules[item["symbol"]]
            assert _decimals(item["quantity"]) <= r.base_scale and _decimals(item["price"]) <= r.price_scale, item
            checked += 1
    assert checked >= 6


def test_run_table_lists_orders_placed_and_intents_dropped_with_units(isolated_env: Path) -> None:
    first = runner.invoke(app, ["run"])
    assert first.exit_code == 0
    lines = first.stdout.splitlines()
    assert all(len(line) <= 80 and "…" not in line for line in lines), first.stdout
    orders = json.loads(runner.invoke(app, ["status", "--json"]).stdout)["open_orders"]
    assert len(orders) == 3
    store = Store.open_existing(isolated_env, "sim")
    rules = all_rules(store, datetime.now(UTC))
    store.close()
    for o in orders:  # each order as the journal has it: symbol, side, price with its quote, quantity with its base
        [row] = [line for line in lines if f"placed {o['client_order_id']}" in line]
        r = rules[o["symbol"]]
        assert row.split()[:2] == [o["symbol"], o["side"]], row
        assert f"{amount(Decimal(o['price']), r.price_scale)} TRY" in row, row
        assert f"{amount(Decimal(o['quantity']), r.base_scale, strip=True)} {r.base}" in row, row
    again = runner.invoke(app, ["run"])  # the same intents meet their open orders: shown dropped with the code
    dropped = [line for line in again.stdout.splitlines() if "dropped DEDUPE_ORDER_OPEN" in line]
    assert {line.split()[0] for line in dropped} == {o["symbol"] for o in orders}, again.stdout
