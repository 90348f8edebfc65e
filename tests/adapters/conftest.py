"""Fixtures shared by the adapter tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """respx with strict defaults: an unrouted request raises, and every stubbed route must be used."""
    with respx.mock(assert_all_mocked=True, assert_all_called=True) as mock:
        yield mock
