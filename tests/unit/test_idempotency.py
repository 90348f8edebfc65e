"""Hard idempotency verdicts and keys (R-EXEC-5), pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from btcbot.domain.idempotency import IdemVerdict, event_key, judge, submit_key
from btcbot.domain.models import Side

hashes = st.text(alphabet="0123456789abcdef", min_size=1, max_size=64)


@given(hashes)
def test_judge_unclaimed_key_is_new(payload: str) -> None:
    assert judge(None, payload) is IdemVerdict.NEW


@given(hashes)
def test_judge_same_payload_is_replay(payload: str) -> None:
    assert judge(payload, payload) is IdemVerdict.REPLAY


@given(hashes, hashes)
def test_judge_other_payload_is_conflict(stored: str, payload: str) -> None:
    assert judge(stored, payload) is (IdemVerdict.REPLAY if stored == payload else IdemVerdict.CONFLICT)


def test_submit_key_names_venue_stage_pair_side_and_bucket() -> None:
    key = submit_key("btcturk", "7", "BTCTRY", Side.BUY, 29_000_000)
    assert key == "submit:btcturk:7:BTCTRY:buy:29000000"
    others = {submit_key("sim", "7", "BTCTRY", Side.BUY, 29_000_000), submit_key("btcturk", "3", "BTCTRY", Side.BUY,
              29_000_000), submit_key("btcturk", "7", "ETHTRY", Side.BUY, 29_000_000),
              submit_key("btcturk", "7", "BTCTRY", Side.SELL, 29_000_000),
              submit_key("btcturk", "7", "BTCTRY", Side.BUY, 29_000_001)}
    assert key not in others and len(others) == 5


def test_event_key_is_deterministic_and_distinguishes_verdict_and_payload() -> None:
    key = "submit:sim:7:BTCTRY:buy:1"
    assert event_key(IdemVerdict.CONFLICT, key, "aa") == event_key(IdemVerdict.CONFLICT, key, "aa")
    assert len({event_key(IdemVerdict.CONFLICT, key, "aa"), event_key(IdemVerdict.CONFLICT, key, "bb"),
                event_key(IdemVerdict.REPLAY, key, "aa"), event_key(IdemVerdict.NEW, key, "aa")}) == 4
