"""Domain value objects (frozen dataclasses, Decimal amounts, typed ids)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from btcbot.domain.money import ZERO, dec_str

__all__ = [
    "Balance",
    "BookLevel",
    "Denial",
    "ExchangeOrderStatus",
    "FillReport",
    "Intent",
    "OrderBook",
    "OrderMethod",
    "OrderReport",
    "OrderRequest",
    "Side",
    "SubmitAck",
    "TradingState",
]


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderMethod(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class ExchangeOrderStatus(StrEnum):
    """BTCTurk's four REST statuses (`Closed` means fully filled; there is no "Filled")."""

    UNTOUCHED = "Untouched"
    PARTIAL = "Partial"
    CLOSED = "Closed"
    CANCELED = "Canceled"

    @property
    def is_open(self) -> bool:
        return self in (ExchangeOrderStatus.UNTOUCHED, ExchangeOrderStatus.PARTIAL)


class TradingState(StrEnum):
    NORMAL = "NORMAL"
    REDUCE_ONLY = "REDUCE_ONLY"
    HALTED = "HALTED"


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Order book snapshot: bids descending, asks ascending; `timestamp` is the venue's time."""

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    timestamp: datetime

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0].price if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return (self.best_bid + self.best_ask) / 2

    @property
    def problem(self) -> str | None:
        """Why this book cannot be traded on (an empty side, a price that is not positive), or None."""
        if not self.bids or not self.asks:
            return "order book has an empty side"
        if any(level.price <= 0 or level.quantity < 0 for level in (*self.bids, *self.asks)):
            return "order book has a non-positive price or a negative size"
        return None


@dataclass(frozen=True, slots=True)
class OrderReport:
    """The exchange's view of one order (normalised from openOrders/allOrders/order/{id})."""

    exchange_order_id: int
    client_order_id: str | None
    symbol: str
    side: Side
    method: OrderMethod
    price: Decimal
    quantity: Decimal  # original base amount
    left_quantity: Decimal  # remaining base amount
    status: ExchangeOrderStatus
    created_at: datetime
    updated_at: datetime

    @property
    def filled_quantity(self) -> Decimal:
        return max(ZERO, self.quantity - self.left_quantity)


@dataclass(frozen=True, slots=True)
class FillReport:
    """One execution from users/transactions/trade, normalised to positive magnitudes.

    `quantity`, `fee` and `tax` are absolute values; the side says the direction. Fees are in quote.
    """

    trade_id: str
    exchange_order_id: int
    client_order_id: str | None
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    tax: Decimal
    fee_asset: str
    timestamp: datetime

    @property
    def notional(self) -> Decimal:
        return self.price * self.quantity

    @property
    def total_fee(self) -> Decimal:
        return self.fee + self.tax


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A preflighted, quantized order ready to be sent."""

    client_order_id: str
    symbol: str
    side: Side
    method: OrderMethod
    price: Decimal
    quantity: Decimal  # base amount (limit); quote amount for a market buy


@dataclass(frozen=True, slots=True)
class SubmitAck:
    exchange_order_id: int
    client_order_id: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Intent:
    """What a strategy wants: an imperative, not yet risk-checked or quantized."""

    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    reason: str
    method: OrderMethod = OrderMethod.LIMIT
    exit_kind: str | None = None  # None for entries; "profit", "stop_loss", "take_profit", "ttl", "rebalance"
    reference_price: Decimal | None = None  # for slippage caps on exits
    meta: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def notional(self) -> Decimal:
        return self.price * self.quantity

    def payload_hash(self) -> str:
        """Deterministic hash of what would be sent (ids and dedupe keys derive from it)."""
        payload = {
            "symbol": self.symbol,
            "side": self.side.value,
            "method": self.method.value,
            "price": dec_str(self.price),
            "quantity": dec_str(self.quantity),
        }
        raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Denial:
    """Why an intent was dropped: code is `CATEGORY_CONDITION`, detail is key=value pairs."""

    intent: Intent
    code: str
    detail: dict[str, str]

    @property
    def reason(self) -> str:
        details = ", ".join(f"{k}={v}" for k, v in self.detail.items())
        return f"{self.code}: {details}" if details else self.code


from btcbot.domain.order_fsm import OrderStatus  # noqa: E402  (order_fsm does not import models)


@dataclass(frozen=True, slots=True)
class LocalOrder:
    """Our journal's view of one order (the durable record; the exchange is the source of truth)."""

    client_order_id: str
    exchange_order_id: int | None
    venue: str
    stage: str
    symbol: str
    side: Side
    method: OrderMethod
    price: Decimal
    quantity: Decimal
    filled_quantity: Decimal  # Σ of our recorded fills
    exchange_filled: Decimal  # amount − leftAmount as last reported by the venue
    status: OrderStatus
    intent_hash: str
    dry_run: bool
    external: bool
    probe_count: int
    created_at: datetime
    updated_at: datetime
    exit_kind: str | None = None
    reason: str | None = None

    @property
    def remaining(self) -> Decimal:
        return max(ZERO, self.quantity - max(self.filled_quantity, self.exchange_filled))


__all__ += ["LocalOrder"]
