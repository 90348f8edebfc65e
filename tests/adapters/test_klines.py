"""Candle download: BTCTurk klines parsing and paging (respx, strict), `btcbot backtest fetch`, and the same
endpoint served by `btcbot sim serve`."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import respx
from typer.testing import CliRunner

from btcbot.adapters.btcturk.client import BtcTurkClient, RetryPolicy
from btcbot.adapters.btcturk.klines import get_klines, parse_klines
from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sim.server import SimServer
from btcbot.backtest.fetch import fetch_candles
from btcbot.cli import app
from btcbot.domain.candles import parse_csv
from btcbot.domain.errors import BadResponse

GRAPH = "https://graph.test"
T0 = datetime(2025, 3, 1, tzinfo=UTC)
EPOCH0 = int(T0.timestamp())


def reply(start: int, count: int, step: int = 60) -> dict[str, object]:
    times = [start + i * step for i in range(count)]
    return {"s": "ok", "t": times, "o": [100 + i for i in range(count)], "h": [110 + i for i in range(count)],
            "l": [90 + i for i in range(count)], "c": [105 + i for i in range(count)], "v": [1.5] * count}


def test_parse_klines_reads_parallel_arrays_as_decimals() -> None:
    candles = parse_klines({"s": "ok", "t": [EPOCH0], "o": [Decimal("3500000")], "h": [3510000], "l": ["3490000"],
                            "c": [3505000], "v": [Decimal("0.25")]})
    assert len(candles) == 1 and candles[0].open_time == T0
    assert (candles[0].low, candles[0].volume) == (Decimal(3490000), Decimal("0.25"))
    assert parse_klines({"s": "no_data", "nextTime": EPOCH0}) == []


@pytest.mark.parametrize(("payload", "message"), [
    ([], "expected an object"),
    ({"s": "error", "errmsg": "bad symbol"}, "status 'error' (bad symbol)"),
    ({"s": "ok", "t": [1, 2], "o": [1], "h": [1], "l": [1], "c": [1], "v": [1]}, "same length"),
    ({"s": "ok", "t": [True], "o": [1], "h": [1], "l": [1], "c": [1], "v": [1]}, "not an epoch second"),
    ({"s": "ok", "t": [1], "o": [1], "h": [1], "l": [2], "c": [1], "v": [1]}, "high 1 is below low 2"),
    ({"s": "ok", "t": [1], "o": [1], "h": [1], "l": [1], "c": [1], "v": [None]}, "expected a number"),
    ({"s": "ok", "t": [1], "o": [1], "h": [1], "l": [1], "c": [1], "v": [-1]}, "volume must not be negative"),
])
def test_parse_klines_unusable_shapes_raise(payload: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_klines(payload)


def test_fetch_candles_pages_through_a_long_range_and_keeps_only_the_range(router: respx.MockRouter) -> None:
    route = router.get(f"{GRAPH}/v1/klines/history")
    route.side_effect = [
        httpx.Response(200, json=reply(EPOCH0 - 60, 1001)),  # one stray candle before the range
        httpx.Response(200, json=reply(EPOCH0 + 60_000, 1000)),
        httpx.Response(200, json={"s": "no_data"}),
    ]
    with BtcTurkClient(graph_url=GRAPH) as client:
        candles, requests = fetch_candles(lambda *a: get_klines(client, *a), "BTCTRY", T0,
                                          T0 + timedelta(minutes=2500), 1)
    assert requests == 3 and len(candles) == 2000
    assert candles[0].open_time == T0 and candles[-1].open_time == T0 + timedelta(minutes=1999)
    sent = [parse_qs(urlparse(str(call.request.url)).query) for call in route.calls]
    assert [(q["from"][0], q["to"][0]) for q in sent] == [
        (str(EPOCH0), str(EPOCH0 + 59_999)), (str(EPOCH0 + 60_000), str(EPOCH0 + 119_999)),
        (str(EPOCH0 + 120_000), str(EPOCH0 + 149_999))]
    assert all(q["symbol"] == ["BTCTRY"] and q["resolution"] == ["1"] for q in sent)


def test_get_klines_retries_a_failed_read_and_rejects_garbage(router: respx.MockRouter) -> None:
    route = router.get(f"{GRAPH}/v1/klines/history")
    route.side_effect = [httpx.Response(503), httpx.Response(200, json=reply(EPOCH0, 2)),
                         httpx.Response(200, text="<html>oops</html>")]
    client = BtcTurkClient(graph_url=GRAPH, sleep=lambda _s: None, retry=RetryPolicy(attempts=2))
    with client:
        assert len(get_klines(client, "BTCTRY", 1, T0, T0 + timedelta(minutes=5))) == 2
        with pytest.raises(BadResponse):
            get_klines(client, "BTCTRY", 1, T0, T0 + timedelta(minutes=5))
    assert route.call_count == 3


runner = CliRunner()


def test_fetch_cli_writes_a_csv_the_backtest_reads(router: respx.MockRouter, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCTURK_GRAPH_URL", GRAPH)
    router.get(f"{GRAPH}/v1/klines/history").respond(200, json=reply(EPOCH0, 30))
    out = tmp_path / "btc.csv"
    result = runner.invoke(app, ["backtest", "fetch", "--symbol", "btc_try", "--from", "2025-03-01",
                                 "--to", "2025-03-01T00:30:00Z", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "30 candles written" in result.stdout
    candles = parse_csv(out.read_text().splitlines(), "fetched")
    assert len(candles) == 30 and candles[0].volume == Decimal("1.5")
    backtest = runner.invoke(app, ["backtest", "--candles", str(out), "--symbol", "BTCTRY", "--json"])
    assert backtest.exit_code == 0, backtest.stderr


@pytest.mark.parametrize(("status", "body", "code", "message"), [
    (200, {"s": "no_data"}, 2, "no BTCTRY candles between"),
    (200, {"s": "ok", "t": [EPOCH0], "o": [1]}, 3, "klines"),
    (400, {"success": False, "message": "INVALID_REQUEST_ERROR", "code": 1037}, 3, "INVALID_REQUEST_ERROR"),
])
def test_fetch_cli_failures_exit_with_a_one_line_reason(router: respx.MockRouter, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, status: int, body: object,
                                                       code: int, message: str) -> None:
    monkeypatch.setenv("BTCTURK_GRAPH_URL", GRAPH)
    router.get(f"{GRAPH}/v1/klines/history").respond(status, json=body)
    out = tmp_path / "x.csv"
    result = runner.invoke(app, ["backtest", "fetch", "--symbol", "BTCTRY", "--from", "2025-03-01",
                                 "--to", "2025-03-01T00:10:00Z", "--out", str(out)])
    assert result.exit_code == code and message in result.stderr and not out.exists()


def test_fetch_cli_bad_range_or_symbol_exits_2() -> None:
    args = ["backtest", "fetch", "--out", "x.csv"]
    assert runner.invoke(app, [*args, "--symbol", "BTC", "--from", "2025-01-01", "--to", "2025-01-02"]).exit_code == 2
    result = runner.invoke(app, [*args, "--symbol", "BTCTRY", "--from", "2025-01-02", "--to", "2025-01-01"])
    assert result.exit_code == 2 and "--to must be after --from" in result.stderr


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def recording_server() -> Iterator[tuple[SimServer, Clock]]:
    clock = Clock()
    with SimExchange.open(None, SimConfig(seed=5, tick_seconds=20), clock) as sim:
        sim.record_history()
        with SimServer(sim, None) as server:
            yield server, clock


def test_sim_server_answers_klines_from_its_simulated_market(recording_server: tuple[SimServer, Clock]) -> None:
    server, clock = recording_server
    clock.at = T0 + timedelta(minutes=10)  # 30 ticks of 20 s: ten 1-minute candles
    with BtcTurkClient(base_url=server.url, graph_url=server.url) as client:
        candles = get_klines(client, "BTCTRY", 1, T0, T0 + timedelta(hours=1))
        five = get_klines(client, "BTCTRY", 5, T0, T0 + timedelta(hours=1))
        assert get_klines(client, "BTCTRY", 1, T0 + timedelta(days=1), T0 + timedelta(days=2)) == []
    assert [c.open_time for c in candles] == [T0 + timedelta(minutes=m) for m in range(10)]
    assert all(c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in candles)
    assert all(a.close == b.open for a, b in itertools.pairwise(candles))
    assert len(five) == 2 and five[0].high == max(c.high for c in candles[:5])
    assert five[1].volume == sum((c.volume for c in candles[5:]), Decimal(0))
