"""httpx wrapper for BTCTurk: hosts, timeouts, signing, envelope, errors, read retries, limiter.

Errors are translated in one place, `BtcTurkClient._translate` (exceptions) together with
`_decode` (status codes and bodies), into the tree in `btcbot.domain.errors`:

    reads (GET)                              writes (POST /order, DELETE /order) -- never retried
    connect error / connect timeout          -> Unavailable  (provably not sent; both)
    read timeout, dropped connection, 5xx    -> Unavailable (retried)   | OutcomeUnknown
    429                                      -> RateLimited (endpoint blocked, block persisted)
    401 / 403                                -> AuthFailed
    4xx (writes: 400/404/405/415/422 only)   -> Rejected(code=symbolic message) / OrderNotFound
    other 4xx to a write (408, 409, ...)     ->                           OutcomeUnknown
    malformed JSON, HTML, wrong shape on 2xx -> BadResponse                | OutcomeUnknown
    (any parse failure: wrong types, values outside the sane bounds of schemas.py, nesting too deep)

Reads are retried on Unavailable with exponential backoff and full jitter, and on RateLimited
when Retry-After is at most `RetryPolicy.max_retry_after`; beyond that RateLimited is raised.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx
from pydantic import SecretStr

from btcbot import testhooks
from btcbot.adapters.btcturk.auth import Signer
from btcbot.adapters.btcturk.limiter import DEFAULT_LIMITS, RateLimitBlockStore, RateLimiter, Window
from btcbot.adapters.btcturk.schemas import Envelope
from btcbot.domain.errors import (
    AuthFailed,
    BadResponse,
    ExchangeError,
    OrderNotFound,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Unavailable,
)

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_GRAPH_URL", "BtcTurkClient", "RetryPolicy"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.btcturk.com"
DEFAULT_GRAPH_URL = "https://graph-api.btcturk.com"
DEFAULT_RETRY_AFTER = 60.0  # §8: without Retry-After wait the block period
MAX_RETRY_AFTER = 3600.0  # never let one odd header stop an endpoint for longer than an hour

Method = Literal["GET", "POST", "DELETE"]
Host = Literal["api", "graph"]
T = TypeVar("T")

_SUCCESS_WORDS = frozenset({"", "0", "OK", "SUCCESS"})
_NOT_FOUND = frozenset({"ORDER NOT FOUND", "NO_ORDER_MATCHES_YOUR_REQUEST"})
_NOT_FOUND_CODES = frozenset({1152})
_DEFINITE_4XX = frozenset({400, 404, 405, 415, 422})  # the request was not processed
# Raised before any byte of the request left this process: provably not sent.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.InvalidURL,
)
_TRY_AGAIN = re.compile(r"try again in (\d+) second", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of reads: `attempts` in total, full-jitter backoff from `base_delay`."""

    attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 4.0
    max_retry_after: float = 5.0  # a 429 asking for longer is raised, not slept through


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite JSON number {name}")


def _json(response: httpx.Response) -> Any:
    """Decode a body without ever creating a float (JSON numbers become Decimal); ValueError when unusable,
    including a body nested too deeply for the decoder (RecursionError)."""
    try:
        return json.loads(response.content, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _word(value: str | None) -> str:
    return (value or "").strip().upper()


def _numeric(code: str | None) -> int | None:
    text = (code or "").strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _rejection(message: str, code: str | None) -> Rejected:
    numeric = _numeric(code)
    symbolic = message.strip()
    if _word(symbolic) in _NOT_FOUND or numeric in _NOT_FOUND_CODES:
        return OrderNotFound(symbolic or "Order not found", numeric_code=numeric)
    return Rejected(symbolic, numeric_code=numeric)


def _error_fields(response: httpx.Response) -> tuple[str, str | None, str]:
    """(message, code, details) of an error body; empty strings when it is not JSON."""
    try:
        body = _json(response)
    except ValueError:
        return "", None, ""
    if not isinstance(body, dict):
        return "", None, ""
    message, code, details = body.get("message"), body.get("code"), body.get("details")
    return (
        str(message) if message is not None else "",
        str(code) if code is not None else None,
        str(details) if details is not None else "",
    )


def _retry_after(response: httpx.Response, now: datetime, details: str) -> float:
    header = response.headers.get("Retry-After", "").strip()
    seconds: float | None = None
    if header:
        try:
            seconds = float(header)
        except ValueError:
            try:
                seconds = (parsedate_to_datetime(header) - now).total_seconds()
            except (TypeError, ValueError):
                seconds = None
    if seconds is None and (match := _TRY_AGAIN.search(details)):
        seconds = float(match.group(1))
    if seconds is None or seconds != seconds:  # missing or NaN
        seconds = DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _envelope_ok(env: Envelope) -> bool:
    code_ok = _word(env.code) in _SUCCESS_WORDS
    if env.success is False:
        return False
    if env.success is True:
        return code_ok or _word(env.message) in _SUCCESS_WORDS
    return code_ok and env.code is not None


def _decode(response: httpx.Response, *, endpoint: str, write: bool, envelope: bool, now: datetime) -> Any:
    """Map status and body to a payload or an ExchangeError (ValueError: unparseable 2xx body)."""
    status = response.status_code
    if status == 429:
        message, _code, details = _error_fields(response)
        retry_after = _retry_after(response, now, details)
        raise RateLimited(f"{endpoint}: HTTP 429 {message} {details}".strip(), retry_after, endpoint)
    if status in (401, 403):  # before looking at `success`: some 401 bodies said success:true
        message, _code, _details = _error_fields(response)
        raise AuthFailed(f"{endpoint}: HTTP {status} {message}".strip())
    if status >= 500:
        text = f"{endpoint}: HTTP {status}"
        raise OutcomeUnknown(text + " after the request was sent") if write else Unavailable(text)
    if 400 <= status < 500:
        if write and status not in _DEFINITE_4XX:  # e.g. 408/409 from a proxy: maybe forwarded
            raise OutcomeUnknown(f"{endpoint}: HTTP {status} to a write")
        message, code, _details = _error_fields(response)
        if message:
            raise _rejection(message, code)
        raise Rejected(f"HTTP_{status}", numeric_code=_numeric(code))
    if not 200 <= status < 300:
        raise ValueError(f"unexpected HTTP status {status}")
    document = _json(response)
    if not envelope:
        return document
    if not isinstance(document, dict):
        raise ValueError(f"expected an envelope object, got {type(document).__name__}")
    env = Envelope.model_validate(document)
    if _envelope_ok(env):
        return env.data
    if env.message and _word(env.message) not in _SUCCESS_WORDS:
        raise _rejection(env.message, env.code)
    raise ValueError(f"reply signals failure without a message (code={env.code!r})")


class BtcTurkClient:
    """One sync httpx.Client per instance; safe to share between threads."""

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        graph_url: str = DEFAULT_GRAPH_URL,
        api_key: SecretStr | None = None,
        api_secret: SecretStr | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        block_store: RateLimitBlockStore | None = None,
        retry: RetryPolicy | None = None,
        limits: Mapping[str, tuple[Window, ...]] = DEFAULT_LIMITS,
    ) -> None:
        self._hosts: dict[Host, str] = {"api": base_url.rstrip("/"), "graph": graph_url.rstrip("/")}
        self.clock = clock
        self._signer = Signer(api_key, api_secret) if api_key is not None and api_secret is not None else None
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._retry = retry or RetryPolicy()
        self._limiter = RateLimiter(
            limits, clock=clock, sleep=sleep, store=block_store, max_wait=self._retry.max_retry_after
        )
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"Accept": "application/json", "User-Agent": "btcbot"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"BtcTurkClient(base_url={self._hosts['api']!r}, signed={self.has_credentials})"

    @property
    def has_credentials(self) -> bool:
        return self._signer is not None

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

    @property
    def requests_made(self) -> dict[str, int]:
        """Requests actually sent, per endpoint key (e.g. "GET /api/v2/orderbook")."""
        with self._counts_lock:
            return dict(self._counts)

    @property
    def total_requests(self) -> int:
        with self._counts_lock:
            return sum(self._counts.values())

    def reset_request_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    def close(self) -> None:
        """Close the connection pool and persist the limiter's windows for the next process."""
        try:
            self._limiter.flush()
        finally:
            self._http.close()

    def __enter__(self) -> BtcTurkClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def request(
        self,
        method: Method,
        path: str,
        *,
        parse: Callable[[Any], T],
        endpoint: str | None = None,
        params: Mapping[str, str | int] | None = None,
        json_body: Mapping[str, str] | None = None,
        signed: bool = False,
        envelope: bool = True,
        host: Host = "api",
    ) -> T:
        """Send one logical call (reads may take several attempts) and return `parse(payload)`."""
        key = endpoint or (f"{method} {path}" if host == "api" else f"{method} graph:{path}")
        write = method != "GET"
        if signed and self._signer is None:
            raise AuthFailed(f"{key}: API key and secret are not configured")
        attempts = 1 if write else max(1, self._retry.attempts)
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(method, path, key, parse, params, json_body, signed, envelope, host)
            except RateLimited as exc:
                if write or attempt == attempts or exc.retry_after > self._retry.max_retry_after:
                    raise
                delay = exc.retry_after
                log.info("%s rate limited; retrying in %.2fs (%d/%d)", key, delay, attempt, attempts)
            except Unavailable as exc:
                if write or attempt == attempts:
                    raise
                delay = self._backoff(attempt)
                log.info("%s unavailable (%s); retrying in %.2fs (%d/%d)", key, exc, delay, attempt, attempts)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._retry.max_delay, self._retry.base_delay * 2 ** (attempt - 1))
        with self._rng_lock:
            return self._rng.uniform(0.0, ceiling)

    def _attempt(
        self,
        method: Method,
        path: str,
        key: str,
        parse: Callable[[Any], T],
        params: Mapping[str, str | int] | None,
        json_body: Mapping[str, str] | None,
        signed: bool,
        envelope: bool,
        host: Host,
    ) -> T:
        self._limiter.acquire(key)  # raises RateLimited while blocked: nothing is sent
        headers: dict[str, str] = {}
        if self._signer is not None and signed:
            headers.update(self._signer.headers(self._clock()))
            headers["Content-Type"] = "application/json"
        content = json.dumps(dict(json_body)).encode() if json_body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        write = method != "GET"
        with self._counts_lock:
            self._counts[key] += 1
        if testhooks.ARMED:
            testhooks.crash_point(f"http:{key}:before")
        with self._translate(key, write=write):
            response = self._http.request(
                method, self._hosts[host] + path, params=params, content=content, headers=headers
            )
            if testhooks.ARMED:
                testhooks.crash_point(f"http:{key}:after")
            log.debug("%s -> HTTP %d", key, response.status_code)
            payload = _decode(response, endpoint=key, write=write, envelope=envelope, now=self._clock())
            return parse(payload)

    @contextmanager
    def _translate(self, key: str, *, write: bool) -> Iterator[None]:
        """The single boundary where httpx and parsing failures become btcbot errors."""
        try:
            yield
        except RateLimited as exc:
            self._limiter.block(key, exc.retry_after)
            raise
        except ExchangeError:
            raise
        except _NOT_SENT as exc:
            raise Unavailable(f"{key}: not sent ({type(exc).__name__})") from exc
        except httpx.DecodingError as exc:  # a reply arrived but its content encoding is broken
            text = f"{key}: undecodable reply ({type(exc).__name__})"
            raise (OutcomeUnknown(text) if write else BadResponse(text)) from exc
        except httpx.HTTPError as exc:  # read/write timeout, dropped connection, protocol error
            text = f"{key}: no reply ({type(exc).__name__})"
            raise (
                OutcomeUnknown(text + "; the request may have been executed") if write else Unavailable(text)
            ) from exc
        except Exception as exc:  # any other failure to use a reply (wrong shape, types, values, nesting)
            text = f"{key}: unusable reply ({type(exc).__name__}: {str(exc)[:200]})"
            log.debug("%s", text, exc_info=True)
            raise (OutcomeUnknown(text) if write else BadResponse(text)) from exc
