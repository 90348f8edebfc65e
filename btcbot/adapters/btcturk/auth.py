"""BTCTurk request signing (btcturk-api.md §2). Pure: no clock, no network.

X-Signature = base64(HMAC-SHA256(key=base64decode(api_secret), msg=api_key + stamp_ms)).
The path, query, method and body are not signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from btcbot.domain.errors import ConfigError

__all__ = ["Signer", "sign", "stamp_ms"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def _decode_secret(api_secret: str) -> bytes:
    try:
        return base64.b64decode(api_secret.strip(), validate=True)
    except (binascii.Error, ValueError):
        # `from None`: never chain anything that might carry the secret's text.
        raise ConfigError("API secret is not valid base64 (as issued by BTCTurk)") from None


def sign(api_key: str, api_secret: str, stamp: str) -> str:
    """Return X-Signature for `api_key` + `stamp` with the base64-encoded `api_secret`."""
    return _sign_with_key(_decode_secret(api_secret), api_key, stamp)


def _sign_with_key(key: bytes, api_key: str, stamp: str) -> str:
    digest = hmac.new(key, (api_key + stamp).encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def stamp_ms(now: datetime) -> str:
    """X-Stamp: Unix time in whole milliseconds (integer arithmetic, no float rounding)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return str((now - _EPOCH) // _ONE_MS)


class Signer:
    """Holds the key pair and produces the auth headers; its repr never shows either value."""

    __slots__ = ("_api_key", "_key_bytes")

    def __init__(self, api_key: SecretStr, api_secret: SecretStr) -> None:
        public = api_key.get_secret_value().strip()
        if not public:
            raise ConfigError("API key is empty")
        self._api_key = api_key
        self._key_bytes = _decode_secret(api_secret.get_secret_value())

    def headers(self, now: datetime) -> dict[str, str]:
        """Fresh X-PCK / X-Stamp / X-Signature headers for one request."""
        public = self._api_key.get_secret_value().strip()
        stamp = stamp_ms(now)
        return {
            "X-PCK": public,
            "X-Stamp": stamp,
            "X-Signature": _sign_with_key(self._key_bytes, public, stamp),
        }

    def __repr__(self) -> str:
        return "Signer(api_key='**********', api_secret='**********')"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("Signer holds secrets and cannot be pickled")
