"""BTCTurk HTTP adapter: the only package that imports httpx.

Public surface: `BtcTurkExchange` (the Exchange port), `BtcTurkClient` (signed httpx wrapper),
`RetryPolicy`, the rate-limit block store Protocol with an in-memory implementation, and the
signing helpers.
"""

from btcbot.adapters.btcturk.auth import Signer, sign
from btcbot.adapters.btcturk.client import DEFAULT_BASE_URL, DEFAULT_GRAPH_URL, BtcTurkClient, RetryPolicy
from btcbot.adapters.btcturk.exchange import BtcTurkExchange
from btcbot.adapters.btcturk.limiter import (
    DEFAULT_LIMITS,
    InMemoryBlockStore,
    RateLimitBlockStore,
    RateLimiter,
    Window,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_GRAPH_URL",
    "DEFAULT_LIMITS",
    "BtcTurkClient",
    "BtcTurkExchange",
    "InMemoryBlockStore",
    "RateLimitBlockStore",
    "RateLimiter",
    "RetryPolicy",
    "Signer",
    "Window",
    "sign",
]
