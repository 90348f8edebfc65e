"""Fills -> positions: average cost, fees + VAT, realized/unrealized PnL, equity (R-ACC). Pure.

Rules (SPEC §7, LESSONS 9-11, 16, 28):

* Fills are the only source of truth. A trade id is applied once; the first occurrence wins.
* Fills arrive normalised (`FillReport`): quantity, fee and tax are positive magnitudes, the side gives
  the direction, fee and tax are in the pair's quote currency. Anything else (floats, negative or
  non-finite amounts, naive timestamps, a fee in another asset) is rejected, never guessed at.
* Average-cost positions per symbol. A buy adds `price*qty + fee + tax` to the cost basis, so
  `avg_cost` is the break-even price before the sell fees. A sell releases the proportional cost basis
  and realizes `price*qty - fee - tax - released cost`. Fees and tax are counted on every leg (a
  multi-leg exit pays and books the fees of every leg) and partial fills update the position at once.
* Quantities never go negative: a sell larger than the position sells only what is held for PnL
  purposes, the rest is reported as `FillEffect.oversold_quantity` (the reconciler should explain it).
  The whole fee and tax of such a fill is still charged to realized PnL and `fees_paid`.

Rounding (the only places where a figure is not exact):

* Additions, subtractions and multiplications are exact: they run in a local decimal context with 200
  digits that *traps* `Inexact`, so a result that would need rounding raises instead of drifting.
* The one division of the state machine (proportional cost released by a partial sell) is rounded once,
  to `ACCOUNTING_SCALE` (18) decimals, ROUND_HALF_EVEN, by exact integer arithmetic (independent of any
  decimal context). A sell that closes the position releases the whole remaining cost basis, so a flat
  position always has `cost_basis == 0` and no dust.
* Derived figures that are never stored (`Position.avg_cost`, `drawdown_pct`) use the same single
  rounding to 18 decimals; display code rounds further (e.g. the symbol's price scale) as it likes.

Two equivalent ways to compute positions:

* `replay(fills)`: dedupe by trade id, sort by `(timestamp, trade_id)`, fold `apply_fill` per symbol.
* `Ledger` + `ingest(ledger, new_fills)`: the incremental form used each cycle. Its contract is that after
  the caller honours `IngestResult.needs_replay` with `rebuild_symbol`, the ledger's positions equal
  `replay()` of every unique fill ingested so far, exactly.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from types import MappingProxyType
from zoneinfo import ZoneInfo

from btcbot.domain.errors import BtcbotError
from btcbot.domain.models import FillReport, Side
from btcbot.domain.money import ZERO, to_decimal
from btcbot.domain.symbols import split_symbol

__all__ = [
    "ACCOUNTING_SCALE",
    "DEFAULT_TZ",
    "AppliedFill",
    "FillEffect",
    "IngestResult",
    "InvalidFill",
    "Ledger",
    "LedgerError",
    "Position",
    "apply_fill",
    "check_fill",
    "daily_realized",
    "day_bounds",
    "drawdown_pct",
    "equity",
    "fill_discrepancy",
    "fill_sort_key",
    "filled_from_fills",
    "ingest",
    "next_peak",
    "rebuild_symbol",
    "replay",
    "replay_ledger",
    "unrealized_pnl",
]

ACCOUNTING_SCALE = 18
"""Decimals kept by the one rounded operation (proportional cost release) and by derived ratios."""

DEFAULT_TZ = "Europe/Istanbul"
"""Trading day used for daily realized PnL unless configured otherwise (BTCTurk's home market)."""

_EXACT = decimal.Context(
    prec=200,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Inexact],
)


class InvalidFill(BtcbotError, ValueError):
    """A fill that cannot be accounted for as it is (negative amount, wrong fee asset, naive time ...)."""


class LedgerError(BtcbotError, ValueError):
    """A ledger operation was given inconsistent input (e.g. a history missing applied fills)."""


# ---------------------------------------------------------------------------------------------------------
# Exact helpers
# ---------------------------------------------------------------------------------------------------------


def _div(numerator: Decimal, denominator: Decimal, scale: int = ACCOUNTING_SCALE) -> Decimal:
    """numerator / denominator rounded once, ROUND_HALF_EVEN, to `scale` decimals (no decimal context)."""
    if denominator == 0:
        raise ZeroDivisionError("accounting division by zero")
    n_num, n_den = numerator.as_integer_ratio()
    d_num, d_den = denominator.as_integer_ratio()
    top = n_num * d_den * 10**scale
    bottom = n_den * d_num
    if bottom < 0:
        top, bottom = -top, -bottom
    quotient, remainder = divmod(top, bottom)  # floor division: top = q*bottom + r, 0 <= r < bottom
    twice = 2 * remainder
    if twice > bottom or (twice == bottom and quotient % 2 == 1):
        quotient += 1
    return Decimal(f"{quotient}E-{scale}")  # the string constructor is exact


def _require_decimal(value: object, name: str) -> Decimal:
    """Money must already be a finite Decimal; floats raise `FloatRejected` (money.to_decimal)."""
    converted = to_decimal(value, field=name)  # rejects float/bool/NaN/inf with the money module's errors
    if not isinstance(value, Decimal):
        raise TypeError(f"{name}: expected Decimal, got {type(value).__name__}")
    return converted


def _require_aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name}: expected datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidFill(f"{name}: timestamp must be timezone-aware")
    return value


def check_fill(fill: FillReport) -> None:
    """Validate a fill before it touches any position; raises FloatRejected, TypeError or InvalidFill."""
    if not isinstance(fill, FillReport):
        raise TypeError(f"expected FillReport, got {type(fill).__name__}")
    tag = f"fill {fill.trade_id!r}"
    if not isinstance(fill.trade_id, str) or not fill.trade_id:
        raise InvalidFill(f"{tag}: trade_id must be a non-empty string")
    if not isinstance(fill.side, Side):
        raise InvalidFill(f"{tag}: side must be a Side, got {fill.side!r}")
    price = _require_decimal(fill.price, f"{tag} price")
    quantity = _require_decimal(fill.quantity, f"{tag} quantity")
    fee = _require_decimal(fill.fee, f"{tag} fee")
    tax = _require_decimal(fill.tax, f"{tag} tax")
    if price <= 0:
        raise InvalidFill(f"{tag}: price must be positive, got {price}")
    if quantity <= 0:
        raise InvalidFill(f"{tag}: quantity must be positive (sides carry the sign), got {quantity}")
    if fee < 0 or tax < 0:
        raise InvalidFill(f"{tag}: fee and tax must be normalised to magnitudes, got fee={fee} tax={tax}")
    _, quote = split_symbol(fill.symbol)
    if fill.fee_asset.upper() != quote:
        raise InvalidFill(f"{tag}: fee asset {fill.fee_asset!r} is not the quote currency {quote}")
    _require_aware(fill.timestamp, f"{tag} timestamp")


def fill_sort_key(fill: FillReport) -> tuple[datetime, int, int, str]:
    """Deterministic application order: timestamp, then trade id (numeric ids compare as numbers)."""
    tid = fill.trade_id
    if tid.isascii() and tid.isdigit():
        return (fill.timestamp, 0, int(tid), tid)
    return (fill.timestamp, 1, 0, tid)


# ---------------------------------------------------------------------------------------------------------
# Position and one fill
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """Average-cost long position of one symbol, derived only from fills.

    * `quantity` — base held by the bot's fills; never negative.
    * `cost_basis` — quote paid for `quantity`, *including* the buy fees and tax (so `avg_cost` is the
      break-even price before sell fees); exactly 0 when flat.
    * `realized_pnl` — quote, net of every fee and tax of every leg (buys' fees are realized through
      the released cost basis, sells' fees directly).
    * `fees_paid` — Σ(fee + tax) of every fill, buys and sells, in quote (LESSONS 10).
    * `opened_at` — timestamp of the fill that took the position from flat to long (for holding-time
      exits); None when flat. `last_fill_at` — timestamp of the last applied fill.
    """

    symbol: str
    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    last_fill_at: datetime | None = None
    opened_at: datetime | None = None

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    @property
    def avg_cost(self) -> Decimal:
        """cost_basis / quantity, rounded once to 18 decimals ROUND_HALF_EVEN; 0 when flat. Derived only."""
        if self.quantity == 0:
            return ZERO
        return _div(self.cost_basis, self.quantity)


@dataclass(frozen=True, slots=True)
class FillEffect:
    """What one fill did to its position: one row of the per-fill ledger.

    `quantity_delta` and `cost_basis_delta` are signed (+ for buys, − for sells). `realized_pnl` is the
    realized PnL booked by this fill (0 for buys; for sells proceeds of the held part − fee − tax − released
    cost). `oversold_quantity` is the part of a sell that exceeded the position (0 normally).
    """

    trade_id: str
    symbol: str
    side: Side
    timestamp: datetime
    price: Decimal
    quantity: Decimal
    quantity_delta: Decimal
    cost_basis_delta: Decimal
    realized_pnl: Decimal
    fee: Decimal
    tax: Decimal
    oversold_quantity: Decimal = ZERO

    @property
    def total_fee(self) -> Decimal:
        """fee + tax, in quote."""
        with decimal.localcontext(_EXACT):
            return self.fee + self.tax

    @property
    def oversold(self) -> bool:
        return self.oversold_quantity > 0


@dataclass(frozen=True, slots=True)
class AppliedFill:
    fill: FillReport
    effect: FillEffect


def apply_fill(position: Position, fill: FillReport) -> tuple[Position, FillEffect]:
    """Apply one fill to the position of its symbol; returns the new position and the fill's effect.

    Raises InvalidFill/FloatRejected/TypeError for a malformed fill and LedgerError when the fill's symbol
    is not the position's. Does not dedupe or order: see `replay` / `ingest`.
    """
    check_fill(fill)
    if fill.symbol != position.symbol:
        raise LedgerError(f"fill {fill.trade_id!r} is for {fill.symbol}, position is {position.symbol}")
    with decimal.localcontext(_EXACT):
        total_fee = fill.fee + fill.tax
        fees_paid = position.fees_paid + total_fee
        if fill.side is Side.BUY:
            added = fill.price * fill.quantity + total_fee
            new_position = replace(
                position,
                quantity=position.quantity + fill.quantity,
                cost_basis=position.cost_basis + added,
                fees_paid=fees_paid,
                last_fill_at=fill.timestamp,
                opened_at=fill.timestamp if position.quantity == 0 else position.opened_at,
            )
            effect = _effect(fill, fill.quantity, added, ZERO, ZERO)
            return new_position, effect

        held = position.quantity
        if fill.quantity >= held:  # closes the position (possibly oversold): release everything
            sold = held
            oversold = fill.quantity - held
            released = position.cost_basis
            new_quantity = ZERO
            new_cost = ZERO
            opened_at = None
        else:
            sold = fill.quantity
            oversold = ZERO
            released = min(_div(position.cost_basis * sold, held), position.cost_basis)
            new_quantity = held - sold
            new_cost = position.cost_basis - released
            opened_at = position.opened_at
        realized = fill.price * sold - total_fee - released
        new_position = replace(
            position,
            quantity=new_quantity,
            cost_basis=new_cost,
            realized_pnl=position.realized_pnl + realized,
            fees_paid=fees_paid,
            last_fill_at=fill.timestamp,
            opened_at=opened_at,
        )
        effect = _effect(fill, -sold, -released, realized, oversold)
        return new_position, effect


def _effect(
    fill: FillReport, qty_delta: Decimal, cost_delta: Decimal, realized: Decimal, oversold: Decimal
) -> FillEffect:
    return FillEffect(
        trade_id=fill.trade_id,
        symbol=fill.symbol,
        side=fill.side,
        timestamp=fill.timestamp,
        price=fill.price,
        quantity=fill.quantity,
        quantity_delta=qty_delta,
        cost_basis_delta=cost_delta,
        realized_pnl=realized,
        fee=fill.fee,
        tax=fill.tax,
        oversold_quantity=oversold,
    )


# ---------------------------------------------------------------------------------------------------------
# Recomputation and the incremental ledger
# ---------------------------------------------------------------------------------------------------------


def _unique_sorted(fills: Iterable[FillReport], seen: frozenset[str] = frozenset()) -> list[FillReport]:
    seen_here: set[str] = set(seen)
    unique: list[FillReport] = []
    for fill in fills:
        check_fill(fill)
        if fill.trade_id in seen_here:
            continue
        seen_here.add(fill.trade_id)
        unique.append(fill)
    unique.sort(key=fill_sort_key)
    return unique


@dataclass(frozen=True)
class Ledger:
    """Immutable accounting state: positions plus what has been applied.

    * `positions` — symbol -> Position (read-only mapping).
    * `trade_ids` — symbol -> frozenset of applied trade ids (a trade id is applied at most once overall).
    * `last_keys` — symbol -> `fill_sort_key` of the last applied fill; a newer fill that sorts before it
      is late and forces a replay of that symbol.

    Build one with `Ledger()` (empty), `replay_ledger(fills)`, or successive `ingest` calls.
    """

    positions: Mapping[str, Position] = field(default_factory=lambda: MappingProxyType({}))
    trade_ids: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    last_keys: Mapping[str, tuple[datetime, int, int, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def __post_init__(self) -> None:
        for name in ("positions", "trade_ids", "last_keys"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, MappingProxyType(dict(value)))

    def has_seen(self, trade_id: str) -> bool:
        return any(trade_id in ids for ids in self.trade_ids.values())

    @property
    def seen_trade_ids(self) -> frozenset[str]:
        return frozenset().union(*self.trade_ids.values())

    def position(self, symbol: str) -> Position:
        """The symbol's position, or a flat one if it never traded."""
        return self.positions.get(symbol) or Position(symbol=symbol)


@dataclass(frozen=True)
class IngestResult:
    """Outcome of `ingest`.

    * `ledger` — the new ledger (the input ledger is unchanged).
    * `applied` — fills applied now with their effects, in application order.
    * `duplicates` — trade ids skipped because they were already applied (or repeated in the batch),
      in input order.
    * `needs_replay` — symbols that received a late fill (sorts before the symbol's last applied fill).
      Nothing of those symbols was applied or marked seen: store the fills, then call
      `rebuild_symbol(result.ledger, symbol, all_fills_of_symbol)`.
    """

    ledger: Ledger
    applied: list[AppliedFill]
    duplicates: list[str]
    needs_replay: set[str]


def ingest(ledger: Ledger, new_fills: Iterable[FillReport]) -> IngestResult:
    """Apply new fills incrementally, each trade id at most once.

    Contract:
    1. Every fill is validated first; a malformed fill raises and nothing is applied.
    2. A fill whose trade id the ledger has applied, or that repeats earlier in the batch, is a duplicate:
       skipped and listed in `duplicates` (first occurrence wins).
    3. The remaining fills are sorted by `fill_sort_key`. For a symbol whose earliest new fill sorts before
       the symbol's last applied fill, none of its new fills is applied and the symbol is returned in
       `needs_replay` (an out-of-order fill would make the average cost differ from `replay`).
    4. Otherwise the symbol's fills are folded with `apply_fill`, exactly as `replay` would.
    Hence: ledger positions == `replay(all unique fills)` whenever `needs_replay` has been honoured.
    """
    batch = list(new_fills)
    for fill in batch:
        check_fill(fill)
    duplicates: list[str] = []
    fresh: list[FillReport] = []
    fresh_ids: set[str] = set()
    for fill in batch:
        if fill.trade_id in fresh_ids or ledger.has_seen(fill.trade_id):
            duplicates.append(fill.trade_id)
            continue
        fresh_ids.add(fill.trade_id)
        fresh.append(fill)
    fresh.sort(key=fill_sort_key)

    by_symbol: dict[str, list[FillReport]] = {}
    for fill in fresh:
        by_symbol.setdefault(fill.symbol, []).append(fill)

    positions = dict(ledger.positions)
    trade_ids = dict(ledger.trade_ids)
    last_keys = dict(ledger.last_keys)
    applied: list[AppliedFill] = []
    needs_replay: set[str] = set()
    for symbol, fills in by_symbol.items():
        last = last_keys.get(symbol)
        if last is not None and fill_sort_key(fills[0]) < last:
            needs_replay.add(symbol)
            continue
        position = positions.get(symbol) or Position(symbol=symbol)
        for fill in fills:
            position, effect = apply_fill(position, fill)
            applied.append(AppliedFill(fill, effect))
        positions[symbol] = position
        trade_ids[symbol] = trade_ids.get(symbol, frozenset()) | {f.trade_id for f in fills}
        last_keys[symbol] = fill_sort_key(fills[-1])
    applied.sort(key=lambda a: fill_sort_key(a.fill))
    return IngestResult(
        ledger=Ledger(positions, trade_ids, last_keys),
        applied=applied,
        duplicates=duplicates,
        needs_replay=needs_replay,
    )


def rebuild_symbol(
    ledger: Ledger, symbol: str, history: Iterable[FillReport]
) -> tuple[Ledger, list[AppliedFill]]:
    """Recompute one symbol from its complete fill history (the answer to `needs_replay`).

    `history` must contain every fill of `symbol` (duplicates allowed, first occurrence wins) and at least
    every trade id the ledger already applied for it; a fill of another symbol, or a history that lacks an
    applied trade id, raises LedgerError. Trade ids applied under another symbol are skipped. Returns the
    new ledger and the effects of every fill of the symbol (the per-fill ledger must be rewritten: a late
    fill changes the average cost and so the realized PnL of every later sell).
    """
    fills = list(history)
    for fill in fills:
        check_fill(fill)
        if fill.symbol != symbol:
            raise LedgerError(f"history of {symbol} contains fill {fill.trade_id!r} of {fill.symbol}")
    elsewhere = frozenset().union(*(ids for sym, ids in ledger.trade_ids.items() if sym != symbol))
    unique = _unique_sorted(fills, seen=elsewhere)
    ids = frozenset(f.trade_id for f in unique)
    missing = ledger.trade_ids.get(symbol, frozenset()) - ids
    if missing:
        raise LedgerError(f"history of {symbol} lacks applied trade ids {sorted(missing)[:5]}")
    position = Position(symbol=symbol)
    applied: list[AppliedFill] = []
    for fill in unique:
        position, effect = apply_fill(position, fill)
        applied.append(AppliedFill(fill, effect))
    positions = dict(ledger.positions)
    trade_ids = dict(ledger.trade_ids)
    last_keys = dict(ledger.last_keys)
    if unique:
        positions[symbol] = position
        trade_ids[symbol] = ids
        last_keys[symbol] = fill_sort_key(unique[-1])
    else:
        positions.pop(symbol, None)
        trade_ids.pop(symbol, None)
        last_keys.pop(symbol, None)
    return Ledger(positions, trade_ids, last_keys), applied


def replay_ledger(fills: Iterable[FillReport]) -> tuple[Ledger, list[AppliedFill]]:
    """Full recomputation: dedupe by trade id (first wins), sort by `fill_sort_key`, fold per symbol."""
    unique = _unique_sorted(fills)
    result = ingest(Ledger(), unique)  # one sorted batch on an empty ledger never needs a replay
    return result.ledger, result.applied


def replay(fills: Iterable[FillReport]) -> dict[str, Position]:
    """Positions recomputed from scratch (the reference the incremental ledger must always equal)."""
    return dict(replay_ledger(fills)[0].positions)


# ---------------------------------------------------------------------------------------------------------
# Valuation
# ---------------------------------------------------------------------------------------------------------


def unrealized_pnl(position: Position, mark: Decimal | None) -> Decimal | None:
    """quantity × mark − cost_basis (mark = best bid for a long); 0 when flat; None when no mark.

    The cost basis includes the buy fees, the future sell fee is not deducted.
    """
    if position.quantity == 0:
        return ZERO
    if mark is None:
        return None
    mark = _require_decimal(mark, f"{position.symbol} mark")
    with decimal.localcontext(_EXACT):
        return position.quantity * mark - position.cost_basis


def equity(
    quote_cash: Decimal, positions: Iterable[Position], marks: Mapping[str, Decimal | None]
) -> Decimal | None:
    """quote_cash + Σ quantity × mark over non-flat positions; None if any such position has no mark.

    `quote_cash` is the total (free + locked) quote balance and every mark must be in that same quote
    currency (convert USDT-pair marks before calling). No fallback price is ever used (LESSONS 25).
    """
    total = _require_decimal(quote_cash, "quote_cash")
    with decimal.localcontext(_EXACT):
        for position in positions:
            if position.quantity == 0:
                continue
            mark = marks.get(position.symbol)
            if mark is None:
                return None
            total += position.quantity * _require_decimal(mark, f"{position.symbol} mark")
    return total


def next_peak(peak: Decimal | None, current_equity: Decimal) -> Decimal:
    """The running peak equity after observing `current_equity`."""
    current = _require_decimal(current_equity, "equity")
    if peak is None:
        return current
    return max(_require_decimal(peak, "peak"), current)


def drawdown_pct(current_equity: Decimal, peak: Decimal | None) -> Decimal:
    """(peak − equity) / peak × 100, in percent, rounded once to 18 decimals; 0 at or above the peak."""
    current = _require_decimal(current_equity, "equity")
    if peak is None:
        return ZERO
    top = _require_decimal(peak, "peak")
    if top <= 0 or current >= top:
        return ZERO
    with decimal.localcontext(_EXACT):
        gap = (top - current) * 100
    return _div(gap, top)


def day_bounds(now: datetime, tz: str | tzinfo = DEFAULT_TZ) -> tuple[datetime, datetime]:
    """[start, end) of the local calendar day containing `now` in `tz`, as UTC datetimes.

    `now` must be timezone-aware (it is an argument: this module never reads the clock).
    """
    _require_aware(now, "now")
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local_day: date = now.astimezone(zone).date()
    start = datetime.combine(local_day, time(0), tzinfo=zone)
    end = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def daily_realized(
    effects: Iterable[FillEffect | AppliedFill], day_start: datetime, day_end: datetime
) -> Decimal:
    """Σ realized PnL of the effects with day_start <= timestamp < day_end (use `day_bounds`)."""
    _require_aware(day_start, "day_start")
    _require_aware(day_end, "day_end")
    total = ZERO
    with decimal.localcontext(_EXACT):
        for item in effects:
            effect = item.effect if isinstance(item, AppliedFill) else item
            if day_start <= effect.timestamp < day_end:
                total += effect.realized_pnl
    return total


# ---------------------------------------------------------------------------------------------------------
# Order fill cross-check (R-ACC-1)
# ---------------------------------------------------------------------------------------------------------


def filled_from_fills(fills_of_order: Iterable[FillReport]) -> Decimal:
    """Filled base quantity of one order = Σ quantity of its unique fills (by trade id).

    Raises LedgerError if the fills belong to more than one exchange order.
    """
    unique = _unique_sorted(fills_of_order)
    order_ids = {f.exchange_order_id for f in unique}
    if len(order_ids) > 1:
        raise LedgerError(f"fills of several orders given: {sorted(order_ids)}")
    total = ZERO
    with decimal.localcontext(_EXACT):
        for fill in unique:
            total += fill.quantity
    return total


def fill_discrepancy(
    sum_of_fills: Decimal, amount: Decimal, left_amount: Decimal, *, tolerance: Decimal = ZERO
) -> Decimal | None:
    """sum_of_fills − (amount − left_amount), or None when within `tolerance` (default: exact match).

    Positive: the fills exceed what the order reports as filled; negative: fills are missing (often
    simply not yet published — BTCTurk fills can appear late).
    """
    fills_sum = _require_decimal(sum_of_fills, "sum_of_fills")
    ordered = _require_decimal(amount, "amount")
    left = _require_decimal(left_amount, "left_amount")
    tol = _require_decimal(tolerance, "tolerance")
    with decimal.localcontext(_EXACT):
        difference = fills_sum - (ordered - left)
        within = abs(difference) <= tol
    if within:
        return None
    return difference
