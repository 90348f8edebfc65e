"""Issue 11 acceptance: the trailing stop, live-armed against `btcbot sim serve`, the price steered through
`POST /__sim/price`. The price rises, then falls, and the trailing exit sells within a few cycles; again with
the server and the bot restarted between the rise and the fall (the peak is only ever seen before the restart,
so the exit can only come from the persisted high-water mark)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rig import Rig

from btcbot.adapters.sim.server import SimServer, open_server_sim
from btcbot.domain.events import EventKind

SYMBOL = "BTCTRY"
TRAILING = {"BTCBOT_SYMBOLS": SYMBOL, "BTCBOT_TRAILING_STOP_BPS": "150",
            "BTCBOT_TRAILING_ACTIVATION_BPS": "100"}  # default MIN_PROFIT_BPS: with a trail on, no profit sell
FALL_CYCLES = 8  # the exit's first sell fill must come within 4; a partly filled leg may need a few more


def _set_mid(server: SimServer, mid: Decimal) -> None:
    reply = httpx.post(server.url + "/__sim/price", json={"symbol": SYMBOL, "mid": str(mid)}, timeout=5)
    assert reply.status_code == 200, reply.text


def _position(rig: Rig) -> dict[str, Any]:
    status = json.loads(rig.run("status", "--json", **TRAILING).stdout)
    return next((p for p in status["positions"] if p["symbol"] == SYMBOL), {"quantity": "0"})


def _open_and_rise(rig: Rig) -> tuple[Decimal, Decimal]:
    """Buy, fill the buy by dropping the asks through it, then raise the price 1.5 % per cycle four times.
    Returns (entry price, high-water mark)."""
    first = rig.cycle(**TRAILING)
    assert first["mode"] == "live", first
    entry = Decimal(next(i["price"] for i in first["intents"] if i["side"] == "buy"))
    _set_mid(rig.server, entry * Decimal("0.995"))
    for _ in range(3):
        if _position(rig)["quantity"] != "0":
            break
        rig.cycle(**TRAILING)
    assert _position(rig)["trail_state"] == "waiting"
    for step in range(1, 5):
        _set_mid(rig.server, entry * (1 + Decimal("0.015") * step))
        rig.cycle(**TRAILING)
    armed = _position(rig)
    assert armed["trail_state"] == "armed", armed
    mark = Decimal(armed["trail_mark"])
    assert mark > entry * Decimal("1.05")
    return entry, mark


def _trailing_sells(cycles: list[dict[str, Any]]) -> int | None:
    """The 1-based cycle of the fall in which the trailing exit's sell fill was recorded."""
    for n, cycle in enumerate(cycles, start=1):
        if any(f["symbol"] == SYMBOL and f["side"] == "sell" for f in cycle["new_fills"]):
            return n
    return None


def _exit_done(rig: Rig, cycles: list[dict[str, Any]]) -> bool:
    """The trailing exit has sold and the position is flat (a leg may fill over two ticks: keep cycling)."""
    return _trailing_sells(cycles) is not None and _position(rig)["quantity"] == "0"


def _check_exit(rig: Rig, mark: Decimal, cycles: list[dict[str, Any]]) -> None:
    sold = _trailing_sells(cycles)
    assert sold is not None and sold <= 4, [c["intents"] for c in cycles]
    position = _position(rig)
    assert position["quantity"] == "0" and position["trail_state"] == "flat"
    store = rig.store()
    try:
        [triggered] = store.events(kind=EventKind.TRAIL_TRIGGERED)
        assert Decimal(json.loads(triggered["detail"])["mark"]) == mark
        sells = [o for o in store.orders(symbol=SYMBOL) if o.side.value == "sell" and o.filled_quantity > 0]
        assert {o.exit_kind for o in sells} == {"trailing_stop"}
        assert all(o.price >= mark * Decimal("0.985") * Decimal("0.97") for o in sells)  # never below the floor
    finally:
        store.close()
    rig.assert_no_client_id_twice()
    rig.assert_venue_orders_known_locally()
    rig.assert_positions_match_venue_fills()


def test_trailing_stop_rise_then_fall_sells_within_a_few_cycles(rig: Rig) -> None:
    _entry, mark = _open_and_rise(rig)
    _set_mid(rig.server, mark * Decimal("0.975"))  # below the trigger (−1.5 %), above the floor (−4.5 %)
    cycles = []
    for _ in range(FALL_CYCLES):
        time.sleep(0.4)  # the server's cancels take 0.3 s
        cycles.append(rig.cycle(**TRAILING))
        if _exit_done(rig, cycles):
            break
    _check_exit(rig, mark, cycles)


def test_trailing_stop_survives_restarts_between_rise_and_fall(rig: Rig, tmp_path: Path) -> None:
    _entry, mark = _open_and_rise(rig)
    rig.server.stop()  # the exchange goes away; so does the bot (every cycle is a new process anyway)
    rig.server.sim.close()
    time.sleep(1.5)  # a gap: the market moves on while nobody watches
    sim = open_server_sim(tmp_path / "server", seed=5, tick_seconds=1, cancel_delay=0.3)
    server = SimServer(sim).start()
    try:
        rig.server, rig.env = server, {**rig.env, "BTCTURK_BASE_URL": server.url}
        _set_mid(server, mark * Decimal("0.975"))  # the fall happens while restarted: the bot never saw it rise
        env = {**os.environ, **rig.env, **TRAILING}
        cycles = []
        for _ in range(FALL_CYCLES):
            time.sleep(0.4)
            done = subprocess.run([sys.executable, "-m", "btcbot", "run", "--json"], env=env, capture_output=True,
                                  text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            cycles.append(json.loads(done.stdout))
            if _exit_done(rig, cycles):
                break
        _check_exit(rig, mark, cycles)
    finally:
        server.stop()
        sim.close()
