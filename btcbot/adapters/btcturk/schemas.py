"""Pydantic models of BTCTurk wire replies (btcturk-api.md §1, §4, §5).

Replies are decoded with `json.loads(..., parse_float=Decimal)`, so JSON numbers never become
floats; amounts that arrive as strings (including the documented comma decimal separator) go
through `btcbot.domain.money.to_decimal`. Ids are int64; trade ids are kept as strings.
Unknown fields are ignored so that new server fields never break parsing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from btcbot.domain.money import to_decimal

__all__ = [
    "Envelope",
    "WireBalance",
    "WireExchangeInfo",
    "WireFilter",
    "WireOpenOrders",
    "WireOrder",
    "WireOrderBook",
    "WireServerTime",
    "WireSubmitted",
    "WireSymbol",
    "WireUserTrade",
]

INT64_MAX = 2**63 - 1
# Sane bounds of wire values (R-REL-3): anything outside is a malformed reply, never money. BTCTurk's prices
# run from ~10^-8 (small coins in TRY) to ~10^7 (BTCTRY), amounts to ~10^12 (SHIB), scales to 8.
MAX_PRICE = Decimal(10) ** 12
MAX_AMOUNT = Decimal(10) ** 15
MAX_SCALE = 18
MAX_TIMESTAMP_MS = 10**14  # year 5138
ZERO = Decimal(0)


def _decimal(value: object) -> Decimal:
    if isinstance(value, float):  # only if a caller bypassed parse_float=Decimal: go through str
        value = repr(value)
    try:
        return to_decimal(value, field="wire number")
    except TypeError as exc:  # pydantic turns ValueError (not TypeError) into ValidationError
        raise ValueError(str(exc)) from None


def _int(value: object) -> int:
    """Integers that may arrive as int, numeric string or integral Decimal ("1647501159759.0")."""
    if isinstance(value, bool):
        raise ValueError("boolean is not an integer")
    if isinstance(value, int):
        return value
    number = _decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


def _int_upto(value: object, high: int, what: str) -> int:
    number = _int(value)
    if not 0 <= number <= high:
        raise ValueError(f"{what} {number} is outside [0, {high}]")
    return number


def _int64(value: object) -> int:
    return _int_upto(value, INT64_MAX, "id")


def _timestamp(value: object) -> int:
    return _int_upto(value, MAX_TIMESTAMP_MS, "timestamp (ms)")


def _id_str(value: object) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return str(_int64(value))


def _opt_str(value: object) -> str | None:
    if value is None:
        return None
    return str(value)


def _bounded(low: Decimal, high: Decimal, *, low_open: bool = False, signed: bool = False) -> Any:
    """A validator: a finite decimal whose magnitude (`signed`) or value lies in the sane range."""

    def check(value: object) -> Decimal:
        number = _decimal(value)
        magnitude = abs(number) if signed else number
        if magnitude < low or (low_open and magnitude == low) or magnitude > high:
            raise ValueError(f"{value!r} is outside the sane range {'(' if low_open else '['}{low}, {high}]")
        return number

    return BeforeValidator(check)


WireDecimal = Annotated[Decimal, BeforeValidator(_decimal)]
WirePrice = Annotated[Decimal, _bounded(ZERO, MAX_PRICE, low_open=True)]  # > 0: a book level, a fill
WireSize = Annotated[Decimal, _bounded(ZERO, MAX_AMOUNT)]  # >= 0: sizes, balances, rule amounts
WireSigned = Annotated[Decimal, _bounded(ZERO, MAX_AMOUNT, signed=True)]  # sign carries meaning (sells, fees)
WireTime = Annotated[int, BeforeValidator(_timestamp)]
WireScale = Annotated[int, BeforeValidator(_int), Field(ge=0, le=MAX_SCALE)]
WireInt = Annotated[int, BeforeValidator(_int)]
WireId = Annotated[int, BeforeValidator(_int64)]
WireIdStr = Annotated[str, BeforeValidator(_id_str)]
WireText = Annotated[str | None, BeforeValidator(_opt_str)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Envelope(_Wire):
    """`{success, message, code, data}` plus the occasional `httpStatusCode` (§1)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    success: bool | None = None
    message: WireText = None
    code: WireText = None  # int, "0", "" or "SUCCESS" on success
    data: Any = None
    http_status_code: WireText = Field(default=None, alias="httpStatusCode")


class WireServerTime(_Wire):
    server_time: WireTime = Field(alias="serverTime")


class WireFilter(_Wire):
    filter_type: str = Field(alias="filterType")
    min_price: WireSize | None = Field(default=None, alias="minPrice")
    max_price: WireDecimal | None = Field(default=None, alias="maxPrice")  # "no maximum" may be huge
    tick_size: WireSize | None = Field(default=None, alias="tickSize")
    min_exchange_value: WireSize | None = Field(default=None, alias="minExchangeValue")


class WireSymbol(_Wire):
    name: str
    status: str
    numerator: str
    denominator: str
    numerator_scale: WireScale = Field(alias="numeratorScale")
    denominator_scale: WireScale = Field(alias="denominatorScale")
    has_fraction: bool = Field(default=True, alias="hasFraction")
    filters: list[WireFilter] = Field(default_factory=list)
    order_methods: list[str] = Field(default_factory=list, alias="orderMethods")
    minimum_limit_order_price: WireSize | None = Field(default=None, alias="minimumLimitOrderPrice")
    maximum_limit_order_price: WireSize | None = Field(default=None, alias="maximumLimitOrderPrice")


class WireExchangeInfo(_Wire):
    symbols: list[dict[str, Any]] = Field(default_factory=list)  # validated one by one (parse.py)


class WireBalance(_Wire):
    asset: str
    balance: WireSize | None = None
    free: WireSize
    locked: WireSize | None = None


class WireOrderBook(_Wire):
    timestamp: WireTime | None = None
    bids: list[tuple[WirePrice, WireSize]] = Field(default_factory=list)
    asks: list[tuple[WirePrice, WireSize]] = Field(default_factory=list)


class WireOrder(_Wire):
    """One order from openOrders / allOrders / order/{id} (§5.4)."""

    id: WireId
    price: WireSigned  # 0 for market orders
    amount: WireSigned
    quantity: WireSigned | None = None
    pair_symbol: str = Field(validation_alias=AliasChoices("pairSymbol", "pairsymbol"))
    type: str
    method: str
    order_client_id: WireText = Field(default=None, alias="orderClientId")
    time: WireTime | None = None
    update_time: WireTime | None = Field(default=None, alias="updateTime")
    status: str
    left_amount: WireSigned = Field(alias="leftAmount")


class WireOpenOrders(_Wire):
    asks: list[WireOrder] = Field(default_factory=list)
    bids: list[WireOrder] = Field(default_factory=list)


class WireUserTrade(_Wire):
    """One row of users/transactions/trade (§5.7): sells have negative amounts, fees are negative."""

    id: WireIdStr
    order_id: WireId = Field(alias="orderId")
    order_client_id: WireText = Field(default=None, alias="orderClientId")
    timestamp: WireTime
    price: WirePrice
    amount: WireSigned
    fee: WireSigned | None = None
    tax: WireSigned | None = None
    numerator_symbol: str = Field(alias="numeratorSymbol")
    denominator_symbol: str = Field(alias="denominatorSymbol")
    order_type: str | None = Field(default=None, alias="orderType")


class WireSubmitted(_Wire):
    """`data` of a successful POST /order (§5.2)."""

    id: WireId
    new_order_client_id: WireText = Field(default=None, alias="newOrderClientId")
    created: WireTime | None = Field(default=None, alias="datetime")
