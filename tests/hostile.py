"""Hypothesis strategies of hostile BTCTurk replies (R-REL-3): malformed, truncated, wrong-typed, negative, huge,
deeply nested and HTML bodies, built around a valid body of the endpoint so that the parser gets deep."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import event
from hypothesis import strategies as st

from btcbot.adapters.sim import wire

__all__ = ["FAMILIES", "hostile_reply", "unusable_reply", "valid_json"]

HTML = ("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
        "<hr><center>cloudflare</center></body></html>")
_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40)
            | st.text(max_size=12) | st.sampled_from(["NaN", "Infinity", "-1", "0", "1e400", "-0.0000001", "9" * 5000]))
JSON_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
HOSTILE_LEAVES = st.sampled_from([
    "-1", "-0.00000001", "0", "1e400", "1E+30", "9" * 400, "NaN", "Infinity", "-Infinity", "", " ", "abc", "1,2,3",
    10**30, -(10**30), 2**64, -1, 0, True, False, None, [], {}, [[[]]], {"a": {"b": None}}, "<b>html</b>",
])
FAMILIES = ("truncated", "html", "nested", "wrong_type", "field", "garbage", "envelope")


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaf_paths(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaf_paths(v, (*path, i))] or [path]
    return [path]


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (_replace(v, rest, new) if k == head else v) for k, v in value.items()}
    return [(_replace(v, rest, new) if i == head else v) for i, v in enumerate(value)]


def _dumps(value: Any) -> bytes:
    return wire.dumps(value)  # Decimals stay JSON numbers


def _nested(depth: int, opener: str) -> bytes:
    closer = "]" if opener == "[" else "}"
    inner = (opener if opener == "[" else '{"a":') * depth + ("0" if opener == "{" else "") + closer * depth
    return ('{"success": true, "message": "", "code": 0, "data": ' + inner + "}").encode()


@st.composite
def hostile_body(draw: st.DrawFn, valid: Any, *, usable_possible: bool) -> tuple[str, bytes]:
    """(family, body). Without `usable_possible` only families that can never parse as a usable reply."""
    families = FAMILIES if usable_possible else ("truncated", "html", "nested", "garbage")
    family = draw(st.sampled_from(families))
    raw = _dumps(valid)
    if family == "truncated":
        body = raw[: draw(st.integers(min_value=0, max_value=len(raw) - 1))]
    elif family == "html":
        body = draw(st.sampled_from([HTML, "<!DOCTYPE html><html><body>Just a moment...</body></html>", "<"]))
        body = body.encode()
    elif family == "nested":  # deeper than any decoder recursion limit unless a usable reply may come out
        least = 50 if usable_possible else 5_000
        body = _nested(draw(st.integers(min_value=least, max_value=200_000)), draw(st.sampled_from(["[", "{"])))
    elif family == "garbage":
        body = draw(st.binary(max_size=64).filter(lambda b: not _parses(b)))
    elif family == "wrong_type":
        body = _dumps({**valid, "data": draw(JSON_VALUES)} if isinstance(valid, dict) else draw(JSON_VALUES))
    elif family == "envelope":
        body = _dumps({key: draw(HOSTILE_LEAVES) if draw(st.booleans()) else value for key, value in
                       (valid.items() if isinstance(valid, dict) else {"data": valid}.items())})
    else:  # one leaf of the valid body replaced by a hostile value (negative, huge, wrong type, ...)
        path = draw(st.sampled_from(_leaf_paths(valid)))
        body = _dumps(_replace(valid, path, draw(HOSTILE_LEAVES)))
    event(f"family={family}")
    return family, body


def valid_json(body: bytes) -> Any:
    """A valid reply body decoded for mutation (numbers stay Decimal)."""
    return json.loads(body, parse_float=Decimal, parse_int=int)


def _parses(body: bytes) -> bool:
    try:
        json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        return False
    return True


STATUSES = st.sampled_from([200, 200, 200, 200, 200, 400, 401, 404, 429, 500, 502, 503])


@st.composite
def hostile_reply(draw: st.DrawFn, valid: Any) -> tuple[int, Callable[[], httpx.Response]]:
    """(status, a factory of the response): any family with any status."""
    _family, body = draw(hostile_body(valid, usable_possible=True))
    status = draw(STATUSES)
    event(f"status={status}")
    headers = {"Content-Type": draw(st.sampled_from(["application/json", "text/html", "text/plain"]))}
    if status == 429:
        headers["Retry-After"] = draw(st.sampled_from(["1", "0", "-5", "1e400", "nan", "soon", "86400"]))
    return status, lambda: httpx.Response(status, content=body, headers=headers)


@st.composite
def unusable_reply(draw: st.DrawFn, valid: Any) -> Callable[[], httpx.Response]:
    """A 200 whose body can never be a usable reply (truncated, HTML, nested too deep, garbage bytes)."""
    _family, body = draw(hostile_body(valid, usable_possible=False))
    return lambda: httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
