"""`btcbot status` for a person (issue 9, item 3): 80 columns without cutting anything, no Python reprs, units on
every amount, local short times, a failed last run in red, an equity sparkline; wide terminals show more.

Golden outputs: a fixed state (golden/status_fixed.json, the shape collect_status returns) rendered at 80 columns
must equal golden/status_80*.txt. After an intended change of the layout, regenerate them with
`UPDATE_GOLDEN=1 .venv/bin/pytest tests/integration/test_status_render.py` and review the diff."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from btcbot.cli import app
from btcbot.cli.render_status import render_status
from btcbot.config import load_settings
from btcbot.services.status import collect_status

runner = CliRunner()
GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 3, 14, 9, 9, 7, tzinfo=UTC)  # 30 s after the fixed state's last cycle
REPRS = re.compile(r"None|True|False|\{'|\['|Decimal\(|datetime\(|\bnan\b")


def _fixed() -> dict[str, Any]:
    return json.loads((GOLDEN / "status_fixed.json").read_text())  # type: ignore[no-any-return]


def _failed(data: dict[str, Any]) -> dict[str, Any]:
    """The same state after a cycle that failed (exit 3) while a pair is quoted in USDT."""
    data = copy.deepcopy(data)
    data["last_cycle"] = dict(data["last_cycle"], id=12, outcome="aborted", exit_code=3,
                              started_at="2026-03-14T09:09:00.000000+00:00",
                              finished_at="2026-03-14T09:09:03.500000+00:00",
                              error="exchange unavailable: Unavailable: GET /api/v2/ticker: connection refused (not "
                                    "sent)")
    usdt = dict(data["positions"][1], symbol="ETHUSDT", quantity="0.0021", avg_cost="2845.123", mark="2839.5",
                value_try="253.41")
    data["positions"].append(usdt)
    data["scales"]["ETHUSDT"] = {"base": "ETH", "quote": "USDT", "price_scale": 2, "base_scale": 4,
                                 "quote_scale": 2}
    return data


def _render(data: dict[str, Any], width: int = 80, color: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=color, color_system="standard" if color else None,
                      highlight=False)
    render_status(data, console, now=NOW)
    return out.getvalue()


def _readable(text: str, width: int = 80) -> None:
    for line in text.splitlines():
        assert len(line) <= width, line
        assert "…" not in line, line
        assert not REPRS.search(line), line


@pytest.mark.parametrize(("name", "make"), [("status_80.txt", _fixed), ("status_80_failed.txt",
                                                                          lambda: _failed(_fixed()))])
def test_status_at_80_columns_matches_golden_output(name: str, make: Any) -> None:
    text = _render(make())
    if os.environ.get("UPDATE_GOLDEN"):
        (GOLDEN / name).write_text(text)
    assert text == (GOLDEN / name).read_text()
    _readable(text)


def test_status_at_80_columns_names_every_unit_and_the_trading_state_reason() -> None:
    text = _render(_fixed())
    assert "REDUCE_ONLY since 14 Mar 12:07: RISK_MAX_DRAWDOWN: drawdown_pct=12.41" in " ".join(text.split())
    assert "times Europe/Istanbul (+03)" in text  # local (the PnL timezone, 09:07 UTC), short
    assert "positions (3) · amounts in TRY" in text and "open orders (3) · prices in TRY" in text
    assert "0.00139876 BTC" in text and "4,985.03" in text and "+1,234.57" in text and "123.46" in text
    assert re.search(r"equity +105,715\.50 TRY  [▁▂▃▄▅▆▇█]{11} last 11 cycles", text), text
    assert "drawdown 0.44 %" in text
    assert "balances at 14 Mar 12:08:37, read as that cycle began (before its orders)" in text


def test_failed_last_run_says_so_in_red_with_its_error() -> None:
    data = _failed(_fixed())
    plain = _render(data)
    assert "FAILED: aborted, exit 3" in plain and "connection refused" in " ".join(plain.split())
    assert "last ok run 14 Mar 12:08:37" in plain
    assert "amounts in TRY (BTCTRY, ETHTRY, USDTTRY), USDT (ETHUSDT)" in plain
    colored = _render(data, color=True)
    assert re.search(r"\x1b\[1;31mFAILED: aborted, exit 3", colored), colored


def test_extreme_amounts_wrap_inside_their_cell_never_cut() -> None:
    data = _fixed()
    data["positions"][0].update(quantity="12.34567891", avg_cost="12345678.9", mark="12345678", value_try="152415677.7",
                                unrealized_pnl="-1234567.89", realized_pnl="123456789.12", fees_paid="1234567.89")
    text = _render(data)
    _readable(text)
    words = text.split()  # each number whole, never folded across lines
    for shown in ("12.34567891", "12,345,679", "152,415,677.70", "-1,234,567.89", "+123,456,789.12"):
        assert shown in words, shown


def test_wide_terminal_shows_client_ids_and_replace_steps() -> None:
    data = _fixed()
    narrow, wide = _render(data), _render(data, width=140)
    for order in data["open_orders"]:
        assert order["client_order_id"] not in narrow and order["client_order_id"] in wide
    assert "step (old → new)" in wide
    _readable(wide, width=140)


def test_real_state_after_ten_cycles_reads_at_80_columns(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "300")
    for _ in range(10):
        assert runner.invoke(app, ["run"]).exit_code == 0
    data = collect_status(load_settings(), fills=5)
    text = _render(data)
    _readable(text)
    assert len(data["equity_history"]) == 10 and "last 10 cycles" in text
    assert data["open_orders"] and all(o["client_order_id"] not in text for o in data["open_orders"])
    cli = subprocess.run([sys.executable, "-m", "btcbot", "status", "--fills", "5"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "80"}, timeout=120)
    assert cli.returncode == 0 and cli.stderr == ""
    _readable(cli.stdout)


def test_real_failed_run_shows_failed_with_error(outage: Path) -> None:
    data = collect_status(load_settings())
    assert data["last_cycle"]["exit_code"] == 3 and data["last_cycle"]["error"]
    text = _render(data)
    _readable(text)
    assert "FAILED: aborted, exit 3" in text and "last ok run" in text


def test_status_json_keeps_spec_keys_and_adds_the_operator_view(isolated_env: Path) -> None:
    assert runner.invoke(app, ["run"]).exit_code == 0
    data = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert {"mode", "last_cycle", "open_orders", "unresolved_orders", "positions", "balances", "pnl",
            "circuit_breaker", "counts"} <= data.keys()
    assert {"timezone", "scales", "asset_scales", "equity_history"} <= data.keys()
    assert data["last_cycle"]["error"] is None and data["scales"]["BTCTRY"]["base"] == "BTC"
    [point] = data["equity_history"]
    assert point["cycle_id"] == data["last_cycle"]["id"] and point["equity_try"] == data["pnl"]["equity"]
    for key in ("equity", "peak_equity", "drawdown_pct", "realized_total", "fees_total"):
        text = data["pnl"][key]
        assert "." not in text or len(text.split(".")[1]) <= 8, (key, text)
