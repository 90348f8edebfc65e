"""Deterministic client order ids and dedupe keys (R-EXEC-1/2, LESSONS 1-2, 29)."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from factories import T0
from hypothesis import given, settings
from hypothesis import strategies as st

from btcbot.domain.ids import CLIENT_ID_MAX_LEN, action_key, bucket_of, client_order_id, event_id
from btcbot.domain.models import Side

FAST = settings(max_examples=200, deadline=None)

stages = st.sampled_from(["3", "4", "7"])
symbols = st.from_regex(r"\A[A-Z0-9]{2,10}(TRY|USDT)\Z")
hashes = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
buckets = st.integers(min_value=0, max_value=10**10)
sides = st.sampled_from(list(Side))


def test_client_order_id_example_readable_format() -> None:
    cid = client_order_id("3", "BTCTRY", Side.BUY, "ab" * 32, 1234)
    prefix, symbol, digest = cid.split("-")
    assert prefix == "bb3b" and symbol == "BTCTRY"
    assert len(digest) == 16 and set(digest) <= set(string.hexdigits.lower())


def test_client_order_id_sell_marked_s() -> None:
    assert client_order_id("4", "ETHTRY", Side.SELL, "0" * 64, 1).startswith("bb4s-ETHTRY-")


@given(stages, symbols, sides, hashes, buckets)
@FAST
def test_client_order_id_any_input_deterministic_and_within_36_chars(
    stage: str, symbol: str, side: Side, intent_hash: str, bucket: int
) -> None:
    first = client_order_id(stage, symbol, side, intent_hash, bucket)
    assert first == client_order_id(stage, symbol, side, intent_hash, bucket)
    assert len(first) <= CLIENT_ID_MAX_LEN == 36
    assert first.isascii() and " " not in first


@given(stages, symbols, sides, hashes, buckets, buckets)
@FAST
def test_client_order_id_different_bucket_different_id(
    stage: str, symbol: str, side: Side, intent_hash: str, bucket: int, other: int
) -> None:
    if bucket != other:
        assert client_order_id(stage, symbol, side, intent_hash, bucket) != client_order_id(
            stage, symbol, side, intent_hash, other)


@given(stages, symbols, hashes, buckets)
@FAST
def test_client_order_id_different_side_different_id(stage: str, symbol: str, intent_hash: str, bucket: int) -> None:
    assert client_order_id(stage, symbol, Side.BUY, intent_hash, bucket) != client_order_id(
        stage, symbol, Side.SELL, intent_hash, bucket)


@given(stages, symbols, sides, hashes, hashes, buckets)
@FAST
def test_client_order_id_different_hash_different_id(
    stage: str, symbol: str, side: Side, intent_hash: str, other: str, bucket: int
) -> None:
    if intent_hash != other:
        assert client_order_id(stage, symbol, side, intent_hash, bucket) != client_order_id(
            stage, symbol, side, other, bucket)


def test_client_order_id_different_stage_or_symbol_different_id() -> None:
    base = client_order_id("3", "BTCTRY", Side.BUY, "0" * 64, 7)
    assert base != client_order_id("4", "BTCTRY", Side.BUY, "0" * 64, 7)
    assert base != client_order_id("3", "ETHTRY", Side.BUY, "0" * 64, 7)


def test_client_order_id_long_symbols_sharing_prefix_differ() -> None:
    # the readable symbol part is cut at 12 characters; the digest still covers the whole symbol
    a = client_order_id("3", "ABCDEFGHIJUSDT", Side.BUY, "0" * 64, 1)
    b = client_order_id("3", "ABCDEFGHIJUSDX", Side.BUY, "0" * 64, 1)
    assert a != b and len(a) <= CLIENT_ID_MAX_LEN


# -- buckets and keys ------------------------------------------------------------------------------------------


def test_bucket_of_same_window_same_bucket_next_window_next_bucket() -> None:
    start = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert bucket_of(start, 60) == bucket_of(start + timedelta(seconds=59), 60)
    assert bucket_of(start + timedelta(seconds=60), 60) == bucket_of(start, 60) + 1


def test_bucket_of_timezone_aware_instant_independent_of_offset() -> None:
    istanbul = T0.astimezone(timezone(timedelta(hours=3)))
    assert bucket_of(istanbul, 300) == bucket_of(T0, 300)


@pytest.mark.parametrize("seconds", [0, -1])
def test_bucket_of_non_positive_window_raises_value_error(seconds: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        bucket_of(T0, seconds)


def test_action_key_deterministic_and_distinct_per_part() -> None:
    key = action_key("submit", "f" * 64, 10)
    assert key == action_key("submit", "f" * 64, 10) == f"submit:{'f' * 24}:10"
    assert key != action_key("cancel", "f" * 64, 10)
    assert key != action_key("submit", "e" * 64, 10)
    assert key != action_key("submit", "f" * 64, 11)


def test_event_id_deterministic_32_hex_and_distinct() -> None:
    eid = event_id("fill", "BTCTRY", 42)
    assert eid == event_id("fill", "BTCTRY", 42)
    assert len(eid) == 32 and set(eid) <= set(string.hexdigits.lower())
    assert eid != event_id("fill", "BTCTRY", 43)
