"""SimExchange (R-EX-7): the Exchange port over the engine, SQLite persistence, clock handling, threads."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot.adapters.sim import BookSnapshotFeed, SimConfig, SimExchange
from btcbot.adapters.sim.store import SimStore
from btcbot.domain.errors import OrderNotFound, Rejected, StateError
from btcbot.domain.models import BookLevel, ExchangeOrderStatus, OrderBook, OrderMethod, OrderRequest, Side
from btcbot.ports import Exchange

D = Decimal
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
Status = ExchangeOrderStatus


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.t = now

    def now(self) -> datetime:
        return self.t


def btc_book(ask: str = "3501000", ask_qty: str = "0.01") -> OrderBook:
    return OrderBook("BTCTRY", (BookLevel(D("3499000"), D("0.01")),), (BookLevel(D(ask), D(ask_qty)),), T0)


def request(
    price: str = "3500000", qty: str = "0.002", side: Side = Side.BUY, cid: str = "cid-1", symbol: str = "BTCTRY"
) -> OrderRequest:
    return OrderRequest(cid, symbol, side, OrderMethod.LIMIT, D(price), D(qty))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def feed() -> BookSnapshotFeed:
    snapshot = BookSnapshotFeed()
    snapshot.push(btc_book())
    return snapshot


@pytest.fixture
def sim(clock: FakeClock, feed: BookSnapshotFeed) -> SimExchange:
    return SimExchange.open(None, SimConfig(), clock, feed)


def test_sim_exchange_port_structural_not_subclass() -> None:
    exchange: Exchange = SimExchange.open(None, SimConfig(), FakeClock())
    assert Exchange not in SimExchange.__mro__
    for name in ("server_time", "exchange_info", "balances", "order_book", "open_orders", "all_orders",
                 "get_order", "fills", "submit_order", "cancel_order"):  # fmt: skip
        assert name in vars(SimExchange), name  # own implementation, no inherited Protocol stub
    assert exchange.name == "sim"


def test_open_new_market_starts_at_now_with_defaults(sim: SimExchange, clock: FakeClock) -> None:
    assert (sim.tick, sim.server_time()) == (0, T0)
    balances = {b.asset: (b.free, b.locked) for b in sim.balances()}
    zero = D(0)
    assert balances == {"BTC": (zero, zero), "ETH": (zero, zero), "TRY": (D(20000), zero), "USDT": (D(2000), zero)}
    info = {r.symbol: r for r in sim.exchange_info()}
    assert sorted(info) == ["BTCTRY", "BTCUSDT", "ETHTRY", "USDTTRY"]
    assert (info["BTCTRY"].band_low, info["BTCTRY"].band_high) == (D("350000"), D("35000000"))
    assert (info["USDTTRY"].base_scale, info["USDTTRY"].price_scale, info["BTCUSDT"].min_notional) == (2, 3, D(10))


def test_open_random_walk_books_realistic_prices(clock: FakeClock) -> None:
    sim = SimExchange.open(None, SimConfig(), clock)
    book = sim.order_book("BTCTRY", limit=5)
    assert len(book.bids) == len(book.asks) == 5 and book.timestamp == T0
    assert book.best_bid is not None and D("3490000") < book.best_bid < D("3500000") < (book.best_ask or 0)
    assert sim.mid("USDTTRY") == D("42.500")


def test_submit_order_ack_and_reads_echo_order(sim: SimExchange) -> None:
    ack = sim.submit_order(request())
    assert (ack.exchange_order_id, ack.client_order_id, ack.timestamp) == (10_000_000_000, "cid-1", T0)
    report = sim.get_order(ack.exchange_order_id)
    assert (report.status, report.quantity, report.left_quantity, report.price) == (
        Status.UNTOUCHED,
        D("0.002"),
        D("0.002"),
        D("3500000"),
    )
    assert [o.exchange_order_id for o in sim.open_orders(["BTCTRY"])] == [ack.exchange_order_id]
    assert sim.open_orders(["ETHTRY"]) == []
    assert sim.order_record(ack.exchange_order_id).locked == D("7019.824")


def test_submit_duplicate_client_ids_accepted_and_echoed(sim: SimExchange) -> None:
    first = sim.submit_order(request(price="3400000"))
    second = sim.submit_order(request(price="3410000"))
    assert first.exchange_order_id != second.exchange_order_id
    assert {o.client_order_id for o in sim.all_orders("BTCTRY")} == {"cid-1"}


def test_submit_rejected_raises_btcturk_error(sim: SimExchange) -> None:
    with pytest.raises(Rejected) as info:
        sim.submit_order(request(qty="0.00002"))
    assert (info.value.code, info.value.numeric_code) == ("FAILED_MIN_TOTAL_AMOUNT", 1123)
    assert sim.all_orders("BTCTRY") == []


def test_all_orders_newest_first_with_start_and_limit(sim: SimExchange, clock: FakeClock) -> None:
    ids = []
    for i in range(3):
        clock.t = T0 + i * timedelta(seconds=10)
        ids.append(sim.submit_order(request(price=str(3400000 + i), qty="0.001")).exchange_order_id)
    assert [o.exchange_order_id for o in sim.all_orders("BTCTRY")] == ids[::-1]
    assert [o.exchange_order_id for o in sim.all_orders("BTCTRY", limit=2)] == ids[:0:-1]
    assert [o.exchange_order_id for o in sim.all_orders("BTCTRY", start=T0 + timedelta(seconds=10))] == ids[:0:-1]


def test_get_order_unknown_raises_order_not_found(sim: SimExchange) -> None:
    with pytest.raises(OrderNotFound) as info:
        sim.get_order(42)
    assert info.value.numeric_code == 1152
    with pytest.raises(OrderNotFound) as cancel_info:
        sim.cancel_order(42)
    assert cancel_info.value.code == "NO_ORDER_MATCHES_YOUR_REQUEST"


def test_market_buy_quote_amount_reported_as_base_closed(sim: SimExchange) -> None:
    ack = sim.submit_order(OrderRequest("mb", "BTCTRY", Side.BUY, OrderMethod.MARKET, D(0), D("500")))
    report = sim.get_order(ack.exchange_order_id)
    assert (report.status, report.left_quantity, report.price) == (Status.CLOSED, D(0), D("3501000"))
    assert report.quantity == D("0.00014241")  # floor(500 / (3501000 × 1.002832), 8)
    assert sim.order_record(ack.exchange_order_id).requested == D("500")
    fills = sim.fills(["BTCTRY"])
    assert [(f.quantity, f.price, f.fee_asset) for f in fills] == [(D("0.00014241"), D("3501000"), "TRY")]
    assert fills[0].fee > 0 and fills[0].tax > 0


def test_auto_advance_resting_order_fills_when_clock_moves(
    sim: SimExchange, clock: FakeClock, feed: BookSnapshotFeed
) -> None:
    ack = sim.submit_order(request())
    feed.push(btc_book(ask="3499000", ask_qty="0.001"))
    clock.t = T0 + timedelta(seconds=90)
    report = sim.get_order(ack.exchange_order_id)
    assert (sim.tick, report.status, report.left_quantity) == (1, Status.PARTIAL, D("0.001"))
    fills = sim.fills(["BTCTRY"])
    assert [(f.price, f.quantity, f.timestamp) for f in fills] == [(D("3500000"), D("0.001"), T0 + MINUTE)]
    assert sim.fill_records(["BTCTRY"])[0].maker is True


def test_fills_since_inclusive_oldest_first_filtered_by_symbol(sim: SimExchange, clock: FakeClock) -> None:
    sim.submit_order(request(price="3501000", qty="0.001"))
    clock.t = T0 + MINUTE
    sim.submit_order(request(price="3501000", qty="0.001"))
    fills = sim.fills(["BTCTRY", "ETHTRY"])
    assert [f.timestamp for f in fills] == [T0, T0 + MINUTE]
    assert [int(f.trade_id) for f in fills] == [1181163798924640000, 1181163798924640001]
    assert sim.fills(["BTCTRY"], since=T0 + MINUTE) == fills[1:]
    assert sim.fills(["ETHTRY"]) == []


def test_fills_with_delay_appear_late_while_order_already_closed(clock: FakeClock, feed: BookSnapshotFeed) -> None:
    sim = SimExchange.open(None, SimConfig(fill_delay_seconds=30), clock, feed)
    ack = sim.submit_order(request(price="3501000", qty="0.001"))
    assert sim.get_order(ack.exchange_order_id).status is Status.CLOSED
    assert sim.fills(["BTCTRY"]) == []
    assert len(sim.fill_records(["BTCTRY"], visible_only=False)) == 1
    clock.t = T0 + timedelta(seconds=30)
    assert len(sim.fills(["BTCTRY"])) == 1


def test_cancel_with_delay_stays_open_until_due(clock: FakeClock, feed: BookSnapshotFeed) -> None:
    sim = SimExchange.open(None, SimConfig(cancel_delay_seconds=5), clock, feed)
    ack = sim.submit_order(request(price="3400000"))
    sim.cancel_order(ack.exchange_order_id)
    assert sim.get_order(ack.exchange_order_id).status is Status.UNTOUCHED
    clock.t = T0 + timedelta(seconds=5)
    report = sim.get_order(ack.exchange_order_id)
    assert (report.status, report.left_quantity) == (Status.CANCELED, D("0.002"))
    sim.cancel_order(ack.exchange_order_id)  # already cancelled: success
    assert {b.asset: b.locked for b in sim.balances()}["TRY"] == 0


def test_cancel_with_delay_without_auto_advance_completes_on_clock(clock: FakeClock, feed: BookSnapshotFeed) -> None:
    sim = SimExchange.open(None, SimConfig(cancel_delay_seconds=5, auto_advance=False), clock, feed)
    ack = sim.submit_order(request(price="3400000"))
    sim.cancel_order(ack.exchange_order_id)
    clock.t = T0 + timedelta(minutes=10)
    assert sim.get_order(ack.exchange_order_id).status is Status.CANCELED
    assert sim.tick == 0


def test_advance_exact_ticks_cron_step_mode(clock: FakeClock) -> None:
    sim = SimExchange.open(None, SimConfig(), clock)
    clock.t = T0 + timedelta(seconds=20)
    assert sim.advance(clock.t, ticks=3) == 3
    assert sim.tick == 3
    assert sim.balances() and sim.tick == 3  # the auto-advance of a read adds nothing within a tick


def _trade_script(sim: SimExchange) -> int:
    mid = sim.mid("BTCTRY")
    sim.submit_order(request(price=str(int(mid * D("1.001"))), qty="0.001"))  # taker
    return sim.submit_order(request(price=str(int(mid * D("0.998"))), qty="0.003", cid="rest")).exchange_order_id


def test_persistence_close_reopen_restores_exact_state(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sim.sqlite"
    sim = SimExchange.open(path, SimConfig(), clock)
    resting_id = _trade_script(sim)
    clock.t = T0 + 7 * MINUTE
    snapshot = _snapshot(sim)
    record = sim.order_record(resting_id)
    sim.close()
    with pytest.raises(StateError):
        sim.balances()
    with SimExchange.open(path, SimConfig(seed=999), clock) as reopened:  # the stored seed wins
        assert _snapshot(reopened) == snapshot
        assert reopened.order_record(resting_id) == record


def test_persistence_reopen_then_advance_same_as_uninterrupted_run(tmp_path: Path) -> None:
    clock, memory_clock = FakeClock(), FakeClock()
    with SimExchange.open(tmp_path / "sim.sqlite", SimConfig(), clock) as sim:
        _trade_script(sim)
        clock.t = T0 + 7 * MINUTE
        sim.balances()
    uninterrupted = SimExchange.open(None, SimConfig(), memory_clock)
    _trade_script(uninterrupted)
    memory_clock.t = clock.t = T0 + 3 * timedelta(hours=3)
    with SimExchange.open(tmp_path / "sim.sqlite", SimConfig(), clock) as reopened:
        assert _snapshot(reopened) == _snapshot(uninterrupted)
        assert reopened.tick == 3 * 180 and reopened.fills(["BTCTRY"])


def _snapshot(sim: SimExchange) -> tuple[object, ...]:
    return (
        sim.tick,
        sim.balances(),
        sim.order_book("BTCTRY", limit=100),
        [sim.mid(s) for s in ("BTCTRY", "ETHTRY", "USDTTRY", "BTCUSDT")],
        sim.all_orders("BTCTRY"),
        sim.fill_records(None, visible_only=False),
    )


def test_persistence_successive_opens_see_orders_fill_over_time(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sim.sqlite"
    with SimExchange.open(path, SimConfig(), clock) as sim:
        mid = sim.mid("BTCTRY")
        ack = sim.submit_order(request(price=str(int(mid * D("0.998"))), qty="0.003"))
        assert sim.get_order(ack.exchange_order_id).status is Status.UNTOUCHED
    statuses = []
    for hours in (1, 6, 24):
        clock.t = T0 + timedelta(hours=hours)
        with SimExchange.open(path, SimConfig(), clock) as sim:
            statuses.append(sim.get_order(ack.exchange_order_id).status)
            assert sim.tick == hours * 60
    assert statuses[-1] is Status.CLOSED and statuses[0] is not Status.CLOSED
    with SimExchange.open(path, SimConfig(), clock) as sim:
        assert sum(f.quantity for f in sim.fills(["BTCTRY"])) == D("0.003")


def test_persistence_file_uses_wal_and_text_money(tmp_path: Path, clock: FakeClock, feed: BookSnapshotFeed) -> None:
    path = tmp_path / "sim.sqlite"
    with SimExchange.open(path, SimConfig(), clock, feed) as sim:
        sim.submit_order(request(price="3501000", qty="0.001"))
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        kinds = conn.execute("SELECT DISTINCT typeof(free), typeof(locked) FROM balances").fetchall()
        fill_kinds = conn.execute("SELECT typeof(price), typeof(fee), typeof(tax) FROM fills").fetchall()
    finally:
        conn.close()
    assert kinds == [("text", "text")] and fill_kinds == [("text", "text", "text")]


def test_persistence_failed_write_leaves_no_half_trade(
    tmp_path: Path, clock: FakeClock, feed: BookSnapshotFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sim.sqlite"
    sim = SimExchange.open(path, SimConfig(), clock, feed)
    before = sim.balances()

    def crash(self: SimStore, fills: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(SimStore, "_write_fills", crash)
    with pytest.raises(OSError):
        sim.submit_order(request(price="3501000", qty="0.001"))  # orders/balances written, then crash
    monkeypatch.undo()
    assert (sim.balances(), sim.all_orders("BTCTRY"), sim.fills(["BTCTRY"])) == (before, [], [])
    sim.close()
    with SimExchange.open(path, SimConfig(), clock, feed) as reopened:
        assert (reopened.balances(), reopened.all_orders("BTCTRY")) == (before, [])
        ack = reopened.submit_order(request(price="3501000", qty="0.001"))
        assert ack.exchange_order_id == 10_000_000_000


def test_concurrent_reads_from_threads_consistent(clock: FakeClock) -> None:
    sim = SimExchange.open(None, SimConfig(), clock)
    sim.submit_order(request(price="3400000"))

    def read(i: int) -> int:
        clock.t = T0 + i * timedelta(seconds=7)
        sim.balances()
        sim.order_book("BTCTRY")
        sim.fills(["BTCTRY"])
        return len(sim.open_orders(["BTCTRY", "ETHTRY"]))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(read, range(64)))
    assert all(count in (0, 1) for count in results)
    try_balance = {b.asset: b for b in sim.balances()}["TRY"]
    assert try_balance.free + try_balance.locked <= D("20000")


def test_open_naive_clock_rejected() -> None:
    with pytest.raises(ValueError):
        SimExchange.open(None, SimConfig(), FakeClock(datetime(2026, 1, 5, 12, 0)))
