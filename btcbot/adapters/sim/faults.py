"""Fault injection and server-side rate limits of `btcbot sim serve` (SPEC R-EX-7, btcturk-api.md §8–§9).

Fault SPEC grammar (comma-separated items; an empty SPEC means no faults):

    ITEM  := "seed=" INT                    seed of the fault RNG (default 0)
           | KIND ["@" SCOPE] "=" VALUE
    SCOPE := METHOD | PATH | METHOD " " PATH  PATH is a case-insensitive prefix ("POST /api/v1/order")
    DUR   := NUMBER ["ms" | "s"]            a bare number is seconds
    P     := probability in [0, 1], drawn once per matching request

    KIND                  VALUE               effect                                          default scope
    latency               DUR["~"DUR]         delay the reply by DUR + uniform(0, jitter)     every request
    429                   P[":"DUR]           HTTP 429 + Retry-After (default 2s, whole       every request
                                              seconds); the endpoint stays blocked that long
    5xx | 500 | 503       P                   error before processing (5xx: 500 or 503)       every request
    html502               P                   HTML "502 Bad Gateway" page before processing   every request
    timeout_after_accept  P[":"DUR|":close"]  process (commit), then hold the reply DUR       POST /api/v1/order
                                              (default 20s) and close without a reply, or
                                              close at once (":close")
    drop_cancel_reply     P                   apply the cancel, close without a reply         DELETE /api/v1/order
    malformed             P                   process, then answer 200 with truncated JSON    GET
    nested_json           P                   process, then answer 200 with JSON nested       every request
                                              100,000 levels deep
    anon_open_orders      P                   openOrders rows without orderClientId           GET /api/v1/openOrders
    zero_price_book       P                   the order book's best bid priced "0"            GET /api/v2/orderbook
    late_fills            DUR                 own trades appear in users/transactions/trade   -
                                              only DUR after the fill

Example: `latency=50ms~20ms,429=0.05:3s,5xx@POST /api/v1/order=0.2,timeout_after_accept=0.1,late_fills=30s,seed=7`.

Per request the injector draws one number per matching probabilistic rule, in SPEC order, from a seeded
`random.Random` of the request's endpoint (seed + endpoint key, e.g. "DELETE /api/v1/order"), in that
endpoint's arrival order: for a given seed the k-th request to an endpoint meets the same faults whatever
runs concurrently on other endpoints. Faults that
reply instead of processing (429, 5xx, html502) take precedence in SPEC order; "after" faults
(timeout_after_accept, drop_cancel_reply, and those rewriting the body: malformed, nested_json,
anon_open_orders, zero_price_book) only act on a successful (2xx) reply; the first one drawn acts. Control requests
(`/__sim/...`) are never faulted or rate limited.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "BODY_FAULTS",
    "PUBLISHED_LIMITS",
    "Decision",
    "FaultInjector",
    "FaultPlan",
    "FaultRule",
    "Limit",
    "Refusal",
    "Scope",
    "ServerLimiter",
]

_PRE = ("429", "5xx", "500", "503", "html502")
BODY_FAULTS = ("malformed", "nested_json", "anon_open_orders", "zero_price_book")  # rewrite a 2xx body
_AFTER = ("timeout_after_accept", "drop_cancel_reply", *BODY_FAULTS)
_KINDS = frozenset({"latency", "late_fills", *_PRE, *_AFTER})
_DEFAULT_SCOPES = {
    "timeout_after_accept": ("POST", "/api/v1/order"),
    "drop_cancel_reply": ("DELETE", "/api/v1/order"),
    "malformed": ("GET", None),
    "anon_open_orders": ("GET", "/api/v1/openorders"),
    "zero_price_book": ("GET", "/api/v2/orderbook"),
}
_METHODS = frozenset({"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$", re.IGNORECASE)
DEFAULT_RETRY_AFTER = 2.0
DEFAULT_HANG = 20.0


def _duration(text: str, what: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{what}: {text!r} is not a duration such as 50ms or 2s")
    value = float(match.group(1))
    return value / 1000 if (match.group(2) or "s").lower() == "ms" else value


def _probability(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a probability") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{what}: probability {text!r} is outside [0, 1]")
    return value


def _fmt_seconds(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which requests a rule applies to: an HTTP method and/or a case-insensitive path prefix."""

    method: str | None = None
    prefix: str | None = None

    @classmethod
    def parse(cls, text: str) -> Scope:
        parts = text.split()
        method = parts[0].upper() if parts and parts[0].upper() in _METHODS else None
        rest = parts[1:] if method else parts
        if len(rest) > 1 or (rest and not rest[0].startswith("/")) or not (method or rest):
            raise ValueError(f"scope {text!r}: expected METHOD, /path or 'METHOD /path'")
        return cls(method, rest[0].lower().rstrip("/") if rest else None)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and method.upper() != self.method:
            return False
        return self.prefix is None or path.lower().startswith(self.prefix)

    def __str__(self) -> str:
        return " ".join(p for p in (self.method, self.prefix) if p)


@dataclass(frozen=True, slots=True)
class FaultRule:
    kind: str
    scope: Scope = field(default_factory=Scope)
    probability: float = 1.0
    seconds: float = 0.0  # latency, Retry-After, hold time of timeout_after_accept, late_fills
    jitter: float = 0.0
    close: bool = False  # timeout_after_accept: close at once instead of holding the reply

    @classmethod
    def parse(cls, item: str) -> FaultRule:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"fault {item!r}: expected KIND[@SCOPE]=VALUE")
        kind, at, scope_text = key.strip().partition("@")
        kind = kind.strip().lower()
        if kind not in _KINDS:
            raise ValueError(f"fault {item!r}: unknown kind {kind!r} (known: {', '.join(sorted(_KINDS))})")
        default = _DEFAULT_SCOPES.get(kind, (None, None))
        scope = Scope.parse(scope_text) if at else Scope(default[0], default[1])
        value = value.strip()
        if kind == "latency":
            base, _, jitter = value.partition("~")
            return cls(kind, scope, 1.0, _duration(base, item), _duration(jitter, item) if jitter else 0.0)
        if kind == "late_fills":
            return cls(kind, scope, 1.0, _duration(value, item))
        prob_text, _, param = value.partition(":")
        probability = _probability(prob_text, item)
        if kind == "429":
            retry = _duration(param, item) if param else DEFAULT_RETRY_AFTER
            return cls(kind, scope, probability, float(max(1, math.ceil(retry))))
        if kind == "timeout_after_accept":
            if param.strip().lower() == "close":
                return cls(kind, scope, probability, 0.0, close=True)
            return cls(kind, scope, probability, _duration(param, item) if param else DEFAULT_HANG)
        if param:
            raise ValueError(f"fault {item!r}: {kind} takes only a probability")
        return cls(kind, scope, probability, close=kind == "drop_cancel_reply")

    def __str__(self) -> str:
        default = _DEFAULT_SCOPES.get(self.kind, (None, None))
        key = self.kind if (self.scope.method, self.scope.prefix) == default else f"{self.kind}@{self.scope}"
        if self.kind == "latency":
            jitter = f"~{_fmt_seconds(self.jitter)}" if self.jitter else ""
            return f"{key}={_fmt_seconds(self.seconds)}{jitter}"
        if self.kind == "late_fills":
            return f"{key}={_fmt_seconds(self.seconds)}"
        param = ""
        if self.kind == "429":
            param = f":{_fmt_seconds(self.seconds)}"
        elif self.kind == "timeout_after_accept":
            param = ":close" if self.close else f":{_fmt_seconds(self.seconds)}"
        return f"{key}={self.probability:g}{param}"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """A parsed fault SPEC (immutable); `FaultPlan()` injects nothing."""

    rules: tuple[FaultRule, ...] = ()
    seed: int = 0

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        rules: list[FaultRule] = []
        seed = 0
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key, _, value = item.partition("=")
            if key.strip().lower() == "seed":
                try:
                    seed = int(value.strip())
                except ValueError:
                    raise ValueError(f"fault {item!r}: seed must be an integer") from None
                continue
            rules.append(FaultRule.parse(item))
        return cls(tuple(rules), seed)

    @property
    def spec(self) -> str:
        """Canonical SPEC text (parses back to an equal plan)."""
        return ",".join([*(str(rule) for rule in self.rules), f"seed={self.seed}"])

    @property
    def late_fills(self) -> float:
        return max((r.seconds for r in self.rules if r.kind == "late_fills"), default=0.0)

    def to_json(self) -> dict[str, object]:
        rules = [
            {"kind": r.kind, "scope": str(r.scope) or None, "probability": str(r.probability),
             "seconds": str(r.seconds), "jitter": str(r.jitter), "close": r.close}
            for r in self.rules
        ]  # fmt: skip
        return {"spec": self.spec, "seed": self.seed, "late_fills": str(self.late_fills), "rules": rules}


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one request: `reply` replaces processing, `after` acts on a 2xx reply."""

    latency: float = 0.0
    reply: str | None = None  # "429", "500", "503", "html502"
    retry_after: int = 0
    after: str | None = None  # "hang", "drop", or a body fault (BODY_FAULTS)
    hold: float = 0.0
    after_kind: str | None = None  # the SPEC kind behind `after` (timeout_after_accept, drop_cancel_reply, ...)


class FaultInjector:
    """Thread-safe holder of the current plan and its seeded random streams (one per endpoint)."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self._plan = plan or FaultPlan()
        self._streams: dict[str, random.Random] = {}

    @property
    def plan(self) -> FaultPlan:
        with self._lock:
            return self._plan

    def set_plan(self, plan: FaultPlan) -> None:
        """Replace the plan and restart its random streams from the plan's seed."""
        with self._lock:
            self._plan = plan
            self._streams = {}

    def _stream(self, key: str) -> random.Random:
        rng = self._streams.get(key)
        if rng is None:
            rng = self._streams[key] = random.Random(f"{self._plan.seed}:{key}")
        return rng

    def decide(self, method: str, path: str, endpoint: str | None = None) -> Decision:
        """Faults for one request; `endpoint` names its random stream (default: method and path)."""
        latency, retry_after, hold = 0.0, 0, 0.0
        reply: str | None = None
        after: str | None = None
        after_kind: str | None = None
        with self._lock:
            rng = self._stream(endpoint or f"{method.upper()} {path.lower()}")
            for rule in self._plan.rules:
                if rule.kind == "late_fills" or not rule.scope.matches(method, path):
                    continue
                if rule.kind == "latency":
                    latency += rule.seconds + (rng.uniform(0.0, rule.jitter) if rule.jitter else 0.0)
                    continue
                draw = rng.random()
                if draw >= rule.probability:
                    continue
                if rule.kind in _PRE and reply is None:
                    reply = rule.kind
                    if rule.kind == "5xx":
                        reply = "503" if draw < rule.probability / 2 else "500"
                    retry_after = int(rule.seconds) if rule.kind == "429" else 0
                elif rule.kind in _AFTER and after is None:
                    after = rule.kind if rule.kind in BODY_FAULTS else ("drop" if rule.close else "hang")
                    hold, after_kind = rule.seconds, rule.kind
        return Decision(latency, reply, retry_after, after, hold, after_kind)


# ------------------------------------------------------------------------------------- rate limits


@dataclass(frozen=True, slots=True)
class Limit:
    """`limit` requests per window of `period` seconds; exceeding blocks the endpoint for `period`."""

    limit: int
    period: float
    policy: str = "ip"

    @property
    def period_text(self) -> str:
        seconds = int(self.period)
        return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


_M = 60.0
PUBLISHED_LIMITS: Mapping[str, tuple[Limit, ...]] = {  # §9; endpoint keys match the client's
    "GET /api/v1/users/balances": (Limit(120, _M),),
    "POST /api/v1/order": (Limit(300, _M, "account"), Limit(10, 1.0)),
    "DELETE /api/v1/order": (Limit(300, _M, "account"), Limit(10, 1.0)),
    "GET /api/v1/order/{id}": (Limit(900, _M, "account"), Limit(30, 1.0)),
    "GET /api/v1/openOrders": (Limit(300, _M),),
    "GET /api/v1/allOrders": (Limit(300, _M),),
    "GET /api/v1/users/transactions/trade": (Limit(120, _M),),
    "GET /api/v2/ticker": (Limit(600, _M),),
    "GET /api/v2/orderbook": (Limit(180, _M),),
    "GET /api/v2/trades": (Limit(90, _M),),
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A 429: `blocked` when the request arrived inside a block a 429 reply had already announced;
    `limit` None when injected."""

    retry_after: int
    limit: Limit | None
    blocked: bool


class ServerLimiter:
    """Fixed windows starting at the first request (§9), shortened by `grace` so that a client keeping
    the published limits with a sliding window is never refused; 429 blocks per endpoint."""

    def __init__(
        self,
        limits: Mapping[str, tuple[Limit, ...]] = PUBLISHED_LIMITS,
        *,
        clock: Callable[[], float] = time.monotonic,
        grace: float = 0.05,
    ) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._grace = grace
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, int], tuple[float, int]] = {}
        self._blocks: dict[str, tuple[float, Limit | None]] = {}
        self._announced: set[str] = set()  # endpoints whose current block a 429 reply has told the client of

    def limits(self, endpoint: str) -> tuple[Limit, ...]:
        return self._limits.get(endpoint, ())

    def admit(self, endpoint: str) -> Refusal | None:
        """Count one request; None = go ahead, else the 429 to send."""
        with self._lock:
            now = self._clock()
            until, cause = self._blocks.get(endpoint, (0.0, None))
            if now < until:
                return Refusal(max(1, math.ceil(until - now)), cause, endpoint in self._announced)
            for index, limit in enumerate(self._limits.get(endpoint, ())):
                start, count = self._windows.get((endpoint, index), (now, 0))
                if now - start >= limit.period - self._grace:
                    start, count = now, 0
                self._windows[(endpoint, index)] = (start, count + 1)
                if count + 1 > limit.limit:
                    self._blocks[endpoint] = (now + limit.period, limit)
                    self._announced.discard(endpoint)
                    return Refusal(max(1, math.ceil(limit.period)), limit, False)
            return None

    def block(self, endpoint: str, seconds: float) -> None:
        """Block `endpoint` for `seconds` (an injected 429)."""
        with self._lock:
            until = self._clock() + seconds
            if until > self._blocks.get(endpoint, (0.0, None))[0]:
                self._blocks[endpoint] = (until, None)
                self._announced.discard(endpoint)

    def announce(self, endpoint: str) -> None:
        """A 429 reply for `endpoint`'s current block has been sent: from now on the client can know it,
        so a request arriving inside the block is a client that ignored it (`Refusal.blocked`). Requests
        already in flight when the block began (concurrent reads) still get a 429 but are not counted."""
        with self._lock:
            if self._clock() < self._blocks.get(endpoint, (0.0, None))[0]:
                self._announced.add(endpoint)

    def blocks(self) -> dict[str, float]:
        """Endpoint → seconds until its block ends (current blocks only)."""
        with self._lock:
            now = self._clock()
            return {key: round(until - now, 3) for key, (until, _) in self._blocks.items() if until > now}

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._blocks.clear()
            self._announced.clear()
