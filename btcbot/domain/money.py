"""Decimal money helpers. Amounts are built from str or int, never float."""

from __future__ import annotations

import decimal
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal

__all__ = [
    "ONE",
    "ZERO",
    "FloatRejected",
    "ceil_to_scale",
    "dec_str",
    "floor_to_scale",
    "quantize_scale",
    "round_to_scale",
    "to_decimal",
]

# One context for the whole program: enough digits for 10^12 TRY at 10^-18. New threads copy
# DefaultContext, so set it too (the cycle runs reads on a thread pool).
decimal.DefaultContext.prec = 50
decimal.getcontext().prec = 50

ZERO = Decimal(0)
ONE = Decimal(1)


class FloatRejected(TypeError):
    """Raised when a float (or bool) is offered where money is expected."""


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Convert str/int/Decimal to a finite Decimal; reject float, bool, NaN and infinity."""
    if isinstance(value, bool | float):
        raise FloatRejected(f"{field}: float/bool {value!r} is not accepted for money; pass a string")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if "," in text and "." not in text:
            text = text.replace(",", ".")  # BTCTurk docs show comma decimals in one example
        try:
            result = Decimal(text)
        except decimal.InvalidOperation as exc:
            raise ValueError(f"{field}: {value!r} is not a decimal number") from exc
    else:
        raise TypeError(f"{field}: {type(value).__name__} is not a decimal amount")
    if not result.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    if result and not -40 <= result.adjusted() <= 30:  # absurd magnitudes are bad input, not money
        raise ValueError(f"{field}: {value!r} is out of range")
    return result


def dec_str(value: Decimal) -> str:
    """Canonical decimal string: no exponent, no trailing zeros, '0' for zero."""
    if not isinstance(value, Decimal):
        raise FloatRejected(f"dec_str expects Decimal, got {type(value).__name__}")
    if value == 0:
        return "0"
    text = format(value, "f")  # every digit the value has, never rounded, no exponent
    return text.rstrip("0").rstrip(".") if "." in text else text


_STEPS = tuple(Decimal(1).scaleb(-scale) for scale in range(41))  # 1, 0.1, ... 1E-40: built once


def _step(scale: int) -> Decimal:
    return _STEPS[scale] if 0 <= scale < len(_STEPS) else Decimal(1).scaleb(-scale)


def quantize_scale(value: Decimal, scale: int, rounding: str) -> Decimal:
    """Quantize to `scale` decimals with an explicit rounding mode."""
    return value.quantize(_step(scale), rounding=rounding)


def floor_to_scale(value: Decimal, scale: int) -> Decimal:
    """Round toward zero to `scale` decimals (quantities, spendable cash)."""
    return quantize_scale(value, scale, ROUND_DOWN)


def ceil_to_scale(value: Decimal, scale: int) -> Decimal:
    """Round away from zero to `scale` decimals (minimums that must be cleared)."""
    return quantize_scale(value, scale, ROUND_UP)


def round_to_scale(value: Decimal, scale: int) -> Decimal:
    """Banker's rounding to `scale` decimals (derived figures such as average cost)."""
    return quantize_scale(value, scale, ROUND_HALF_EVEN)
