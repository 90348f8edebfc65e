"""Domain errors. Everything btcbot raises on purpose derives from BtcbotError."""

from __future__ import annotations

__all__ = [
    "BreakerOpen",
    "BtcbotError",
    "ConfigError",
    "InvalidTransition",
    "LockBusy",
    "QuantizationError",
    "StateError",
    "describe",
]


def describe(error: BaseException, limit: int = 300) -> str:
    """`Type: message`, truncated: how an error is written into events, reports and checks."""
    return f"{type(error).__name__}: {error}"[:limit]


class BtcbotError(Exception):
    """Base of every deliberate btcbot error (mapped to an exit code by the CLI)."""


class ConfigError(BtcbotError):
    """Bad usage or configuration (exit 2); the message names the setting."""


class StateError(BtcbotError):
    """The state directory or database cannot be used safely (exit 2)."""


class LockBusy(BtcbotError):
    """Another btcbot process holds the single-instance lock (exit 75)."""


class BreakerOpen(BtcbotError):
    """The circuit breaker is open: the cycle is refused before anything is sent (exit 3)."""


class InvalidTransition(BtcbotError):
    """An order event is not allowed in the order's current status ("FROM -> EVENT")."""


class QuantizationError(BtcbotError):
    """An amount cannot be made to fit the symbol's rules."""


# ---------------------------------------------------------------------------------------------------------
# Exchange errors, sorted by what the caller must do (R-EX-3):
#
#   ExchangeError
#   ├── Unavailable        the request was not accepted (not sent, connect error, 503 maintenance,
#   │                      5xx on a read): nothing happened, try later
#   │   └── RateLimited    429: the endpoint is blocked for `retry_after` seconds
#   ├── OutcomeUnknown     the request may have reached the venue (timeout after send, 5xx or
#   │                      unparseable reply to a write): reconcile, never blindly resend
#   ├── Rejected           definitive business "no" with the symbolic code (e.g. FAILED_MIN_TOTAL_AMOUNT)
#   │   └── OrderNotFound  the venue says the order id does not exist
#   ├── AuthFailed         401: keys, signature, nonce, IP or scope
#   └── BadResponse        the venue answered with something unusable to a read (malformed JSON, HTML)
# ---------------------------------------------------------------------------------------------------------


class ExchangeError(BtcbotError):
    """Base of every error raised by an Exchange implementation."""


class Unavailable(ExchangeError):
    """Not accepted by the venue; safe to try again later."""


class RateLimited(Unavailable):
    """HTTP 429; `retry_after` seconds before the endpoint may be called again."""

    def __init__(self, message: str, retry_after: float, endpoint: str = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.endpoint = endpoint


class OutcomeUnknown(ExchangeError):
    """The request may have been executed; only reconciliation can tell."""


class Rejected(ExchangeError):
    """A definitive business rejection; `code` is the symbolic name (the `message` field)."""

    def __init__(self, code: str, message: str = "", numeric_code: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if message and message != code else code)
        self.code = code
        self.numeric_code = numeric_code


class OrderNotFound(Rejected):
    """The venue does not know this order id."""


class AuthFailed(ExchangeError):
    """Authentication or permission failure (401)."""


class BadResponse(ExchangeError):
    """A reply that could not be understood (malformed JSON, HTML page, wrong types)."""


__all__ += [
    "AuthFailed",
    "BadResponse",
    "ExchangeError",
    "OrderNotFound",
    "OutcomeUnknown",
    "RateLimited",
    "Rejected",
    "Unavailable",
]
