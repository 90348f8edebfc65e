"""Trailing stop through the real cycle (issue 11): `btcbot run` against the built-in simulator, the price steered
between runs (each run is a fresh cycle that only knows what SQLite remembers), and `btcbot status`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from factories import make_order
from typer.testing import CliRunner

from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sqlite.store import Store
from btcbot.bootstrap import SIM_DB_FILENAME, SystemClock
from btcbot.cli import app
from btcbot.domain.accounting import Position
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import Side
from btcbot.services.cycle import _exit_legs

runner = CliRunner()
TRAILING = {"BTCBOT_TRAILING_STOP_BPS": "150", "BTCBOT_TRAILING_ACTIVATION_BPS": "100",
            "BTCBOT_SIM_STEP_SECONDS": "60"}  # default MIN_PROFIT_BPS: with a trail on, no profit sell caps the run


class Bot:
    def __init__(self, state: Path, symbols: str) -> None:
        self.state, self.env = state, {**TRAILING, "BTCBOT_SYMBOLS": symbols}

    def run(self) -> dict[str, Any]:
        result = runner.invoke(app, ["run", "--json"], env=self.env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    def position(self, symbol: str) -> dict[str, Any]:
        result = runner.invoke(app, ["status", "--json"], env=self.env)
        assert result.exit_code == 0, result.output
        return next(p for p in json.loads(result.stdout)["positions"] if p["symbol"] == symbol)

    def set_mid(self, symbol: str, mid: Decimal) -> None:
        with SimExchange.open(self.state / SIM_DB_FILENAME, SimConfig(auto_advance=False), SystemClock()) as sim:
            sim.set_mid(symbol, mid)

    def events(self, kind: EventKind) -> list[str]:
        store = Store.open(self.state, "sim")
        try:
            return [row["code"] for row in store.events(kind=kind)]
        finally:
            store.close()


@pytest.mark.parametrize("symbol, symbols", [("BTCTRY", "BTCTRY"), ("BTCUSDT", "BTCUSDT,USDTTRY")])
def test_run_price_rises_then_falls_trailing_stop_sells(isolated_env: Path, symbol: str, symbols: str) -> None:
    bot = Bot(isolated_env, symbols)
    [buy] = [i for i in bot.run()["intents"] if i["symbol"] == symbol]
    entry = Decimal(buy["price"])
    bot.set_mid(symbol, entry * Decimal("0.995"))  # the asks drop through our resting buy: it fills
    bot.run()
    assert bot.position(symbol)["trail_state"] == "waiting"
    for step in range(1, 5):  # +1.5 % per run: the trail arms (1 % + fees) and the mark follows
        bot.set_mid(symbol, entry * (1 + Decimal("0.015") * step))
        bot.run()
    armed = bot.position(symbol)
    assert armed["trail_state"] == "armed"
    mark = Decimal(armed["trail_mark"])
    assert mark > entry * Decimal("1.05")
    assert Decimal(armed["trail_trigger_price"]) == mark * Decimal("0.985")
    bot.set_mid(symbol, mark * Decimal("0.975"))  # below the trigger, above the ladder's floor
    sold_after = None
    for run in range(1, 5):
        cycle = bot.run()
        if any(f["symbol"] == symbol and f["side"] == "sell" for f in cycle["new_fills"]):
            sold_after = run
            break
    assert sold_after is not None, "the trailing stop did not sell within 4 runs"
    assert bot.position(symbol)["quantity"] == "0"
    assert bot.position(symbol)["trail_state"] == "flat"
    assert bot.events(EventKind.TRAIL_ARMED) == ["ACTIVATION_REACHED"]
    assert bot.events(EventKind.TRAIL_TRIGGERED) == ["BID_AT_OR_BELOW_TRIGGER"]
    assert "POSITION_FLAT" in bot.events(EventKind.TRAIL_RESET)
    intents = bot.events(EventKind.INTENT_CREATED)
    assert "trailing_stop_exit" in intents
    assert "profit_capture_exit" not in intents  # a trail on: no fixed profit sell capped the run


def test_run_gap_through_trigger_and_floor_is_refused_then_sells_on_recovery(isolated_env: Path) -> None:
    bot = Bot(isolated_env, "BTCTRY")
    [buy] = bot.run()["intents"]
    entry = Decimal(buy["price"])
    bot.set_mid("BTCTRY", entry * Decimal("0.995"))
    bot.run()
    bot.set_mid("BTCTRY", entry * Decimal("1.06"))
    bot.run()
    mark = Decimal(bot.position("BTCTRY")["trail_mark"])  # trigger mark × 0.985, floor × 0.97 below that
    bot.set_mid("BTCTRY", mark * Decimal("0.93"))
    gapped = bot.run()
    assert [d["code"] for d in gapped["dropped"]] == ["EXIT_GAP_BEYOND_SLIPPAGE"]
    assert gapped["submitted"] == [] and bot.position("BTCTRY")["quantity"] != "0"
    bot.set_mid("BTCTRY", mark * Decimal("0.975"))  # back above the floor, still below the trigger
    for _ in range(4):
        if any(f["side"] == "sell" for f in bot.run()["new_fills"]):
            break
    assert bot.position("BTCTRY")["quantity"] == "0"
    assert bot.events(EventKind.TRAIL_TRIGGERED) == ["BID_AT_OR_BELOW_TRIGGER"]  # once: no new high between


def test_run_trailing_off_status_shows_off(isolated_env: Path) -> None:
    bot = Bot(isolated_env, "BTCTRY")
    bot.env["BTCBOT_TRAILING_STOP_BPS"] = "0"
    [buy] = bot.run()["intents"]
    bot.set_mid("BTCTRY", Decimal(buy["price"]) * Decimal("0.995"))
    bot.run()
    position = bot.position("BTCTRY")
    assert position["trail_state"] == "off" and position["trail_mark"] is None
    assert bot.events(EventKind.TRAIL_ARMED) == []


def test_exit_legs_before_a_rebuy_of_dust_do_not_carry_over(isolated_env: Path) -> None:
    """An exit that left dust is over: the strategy buys again, and that exposure starts with no legs."""
    opened = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    store = Store.open(isolated_env, "sim")
    submitting = Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD")
    leg = make_order("bb3s-leg", side=Side.SELL, created_at=opened + timedelta(minutes=1), exchange_order_id=1)
    store.insert_order(leg, None, submitting, opened)
    store.db.conn.execute("UPDATE orders SET exit_kind = 'trailing_stop'")
    positions = {"BTCTRY": Position("BTCTRY", Decimal("0.001"), Decimal("3500"), opened_at=opened)}
    assert [o.client_order_id for o in _exit_legs(store, positions)["BTCTRY"]] == ["bb3s-leg"]
    rebuy = make_order("bb3b-rebuy", filled_quantity="0.001", created_at=opened + timedelta(minutes=5),
                       exchange_order_id=2)
    store.insert_order(rebuy, None, submitting, opened)
    assert _exit_legs(store, positions) == {}
    store.close()
