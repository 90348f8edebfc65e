"""The candle CSV format (SPEC §13): what parses, and every malformed input naming its line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from factories import make_candles
from hypothesis import given
from hypothesis import strategies as st

from btcbot.domain.candles import CandleError, candle_interval, format_csv, parse_csv, parse_time, select
from btcbot.domain.errors import ConfigError

HEADER = "timestamp,open,high,low,close,volume"


def _parse(*rows: str, header: str = HEADER) -> list:  # type: ignore[type-arg]
    return parse_csv([header, *rows], "data.csv")


def test_parse_csv_epoch_and_iso_timestamps_with_gaps_parse_to_utc_candles() -> None:
    candles = _parse("1704067200,100,110,90,105,1.5",
                     "2024-01-01T00:01:00Z,105,106,104,104,0",
                     "2024-01-01T00:05:00,104,104,100,101,0.25",
                     "2024-01-01T03:06:00+03:00,101,102,100,102,3")
    assert [c.open_time for c in candles] == [datetime(2024, 1, 1, 0, m, tzinfo=UTC) for m in (0, 1, 5, 6)]
    assert candles[0].open == Decimal("100") and candles[2].volume == Decimal("0.25")
    assert candle_interval(candles) == timedelta(minutes=1)


def test_parse_csv_tolerates_bom_crlf_blank_lines_and_spaces() -> None:
    lines = ["\ufeff" + HEADER + "\r\n", "\n", " 1704067200 , 100 , 110 , 90 , 105 , 1 \r\n", ""]
    assert len(parse_csv(lines, "x")) == 1


BAD_ROWS = [
    ("1704067200,100,110,90,105", "expected 6 fields, found 5"),
    ("1704067200,100,110,90,105,1,7", "expected 6 fields, found 7"),
    ("1704067200,abc,110,90,105,1", "open 'abc' is not a plain decimal number"),
    ("1704067200,100,1e3,90,105,1", "high '1e3' is not a plain decimal number"),
    ("1704067200,100,110,90,NaN,1", "close 'NaN' is not a plain decimal number"),
    ("1704067200,100,inf,90,105,1", "high 'inf' is not a plain decimal number"),
    ("1704067200,100,110,90,105,-1", "volume '-1' is not a plain decimal number"),
    ("1704067200,+100,110,90,105,1", "open '+100' is not a plain decimal number"),
    ("1704067200,100,110,,105,1", "low '' is not a plain decimal number"),
    ("1704067200,100.,110,90,105,1", "open '100.' is not a plain decimal number"),
    ("1704067200,100,90,110,100,1", "high 90 is below low 110"),
    ("1704067200,120,110,90,105,1", "open and close must lie between low and high"),
    ("1704067200,100,110,90,80,1", "open and close must lie between low and high"),
    ("1704067200,0,0,0,0,1", "prices must be greater than 0"),
    ("1704067200000,100,110,90,105,1", "too large for epoch seconds (milliseconds?)"),
    ("yesterday,100,110,90,105,1", "neither epoch seconds nor ISO-8601"),
    ("-5,100,110,90,105,1", "neither epoch seconds nor ISO-8601"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_parse_csv_malformed_row_raises_config_error_naming_the_line(row: str, message: str) -> None:
    with pytest.raises(CandleError) as info:
        _parse("1704067140,100,110,90,105,1", row)
    assert str(info.value).startswith("data.csv line 3: ")
    assert message in str(info.value)
    assert isinstance(info.value, ConfigError)  # exit 2


@pytest.mark.parametrize(("rows", "line", "message"), [
    (("1704067200,100,110,90,105,1", "1704067140,100,110,90,105,1"), 3, "is earlier than line 2"),
    (("1704067200,100,110,90,105,1", "2024-01-01T00:00:00Z,100,110,90,105,1"), 3, "repeats the timestamp of line 2"),
    (("1704067200,100,110,90,105,1", "", "1704067200,100,110,90,105,1"), 4, "repeats the timestamp of line 2"),
])
def test_parse_csv_rows_out_of_order_or_duplicated_are_refused(rows: tuple[str, ...], line: int, message: str) -> None:
    with pytest.raises(CandleError, match=f"line {line}: .*{message}"):
        _parse(*rows)


@pytest.mark.parametrize(("lines", "message"), [
    ([], "data.csv: empty file"),
    (["", "  "], "data.csv: empty file"),
    ([HEADER], "data.csv line 1: no candles after the header"),
    (["time,open,high,low,close,volume", "1,1,1,1,1,1"], "data.csv line 1: the header must be"),
    (["timestamp,open,high,low,close", "1,1,1,1,1"], "data.csv line 1: the header must be"),
    (["1704067200,100,110,90,105,1"], "data.csv line 1: the header must be"),
])
def test_parse_csv_bad_header_or_empty_file_is_refused(lines: list[str], message: str) -> None:
    with pytest.raises(CandleError, match=message):
        parse_csv(lines, "data.csv")


@given(st.lists(st.integers(min_value=1, max_value=10**7), min_size=1, max_size=30),
       st.sampled_from(["0.001", "0.05"]), st.integers(min_value=1, max_value=60))
def test_format_csv_round_trips_through_parse_csv(closes: list[int], spread: str, minutes: int) -> None:
    candles = make_candles(closes, spread=spread, volume="0.125", minutes=minutes)
    assert parse_csv(list(format_csv(candles)), "round trip") == candles
    if len(candles) > 1:
        assert candle_interval(candles) == timedelta(minutes=minutes)


def test_select_keeps_candles_opening_within_inclusive_bounds() -> None:
    candles = make_candles([100, 101, 102, 103])
    first = candles[1].open_time
    assert select(candles, first, candles[2].open_time) == candles[1:3]
    assert select(candles, None, None) == candles
    assert select(candles, candles[-1].open_time + timedelta(seconds=1), None) == []


def test_parse_time_accepts_dates_and_rejects_milliseconds() -> None:
    assert parse_time("2024-02-03") == datetime(2024, 2, 3, tzinfo=UTC)
    assert parse_time("0") == datetime(1970, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="milliseconds"):
        parse_time("1704067200000", "--from")


def test_parse_csv_accepts_quoted_fields_and_refuses_broken_quotes() -> None:
    assert _parse('"1704067200","100","110","90","105","1"')[0].close == Decimal(105)
    with pytest.raises(CandleError, match="line 2: "):
        _parse('1704067200,"100,110,90,105,1')
