"""Signing per btcturk-api.md §2, with the published vectors, and secret hygiene (R-SAFE-4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from btcbot.adapters.btcturk.auth import Signer, sign, stamp_ms
from btcbot.domain.errors import ConfigError

VECTOR_1 = ("demo-public-key", "c2VjcmV0", "1700000000123", "beR29vKK81xPAa2B3i3OkwOs8kHDRrIW4FvvBsIazqI=")
VECTOR_2 = (
    "00000000-1111-2222-3333-444444444444",
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    "1705907630294",
    "7g1t8AaCOQ2OebjwCdXj3MFYshFUfh4nuSQYJHs9Pw4=",
)
WRONG_KEY_SIGNATURE_2 = "YPVeR+FfjIuFUWiNa2vlODSUgOC+s3n+102Y+p+4oUE="


@pytest.mark.parametrize(("key", "secret", "stamp", "expected"), [VECTOR_1, VECTOR_2])
def test_sign_published_vectors_match(key: str, secret: str, stamp: str, expected: str) -> None:
    assert sign(key, secret, stamp) == expected


def test_sign_secret_utf8_bytes_as_key_differs_from_correct_signature() -> None:
    key, secret, stamp, expected = VECTOR_2
    wrong = base64.b64encode(hmac.new(secret.encode(), (key + stamp).encode(), hashlib.sha256).digest()).decode()
    assert wrong == WRONG_KEY_SIGNATURE_2  # the documented negative vector
    assert sign(key, secret, stamp) == expected != WRONG_KEY_SIGNATURE_2


def test_signer_headers_vector_two_at_its_stamp() -> None:
    key, secret, _stamp, expected = VECTOR_2
    signer = Signer(SecretStr(key), SecretStr(secret))
    now = datetime(2024, 1, 22, 7, 13, 50, 294_000, tzinfo=UTC)  # 1705907630294 ms
    headers = signer.headers(now)
    assert headers == {"X-PCK": key, "X-Stamp": "1705907630294", "X-Signature": expected}


def test_stamp_ms_sub_millisecond_floors_to_integer_ms() -> None:
    assert stamp_ms(datetime(2023, 11, 14, 22, 13, 20, 123_999, tzinfo=UTC)) == "1700000000123"


def test_stamp_ms_naive_datetime_treated_as_utc() -> None:
    assert stamp_ms(datetime(1970, 1, 1, 0, 0, 1)) == "1000"


def test_signer_repr_and_str_hide_key_and_secret() -> None:
    key, secret, _stamp, _sig = VECTOR_2
    signer = Signer(SecretStr(key), SecretStr(secret))
    for text in (repr(signer), str(signer)):
        assert secret not in text
        assert key not in text


def test_signer_pickle_refused() -> None:
    signer = Signer(SecretStr(VECTOR_1[0]), SecretStr(VECTOR_1[1]))
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_signer_invalid_base64_secret_raises_config_error_without_secret() -> None:
    bad_secret = "not base64 at all! s3cr3t-value"
    with pytest.raises(ConfigError) as info:
        Signer(SecretStr("pub"), SecretStr(bad_secret))
    assert bad_secret not in str(info.value)
    assert bad_secret not in repr(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_signer_empty_key_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        Signer(SecretStr("  "), SecretStr(VECTOR_1[1]))
