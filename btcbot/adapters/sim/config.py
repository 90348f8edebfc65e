"""Simulator configuration: frozen dataclasses with BTCTurk-like defaults (btcturk-api.md §7, §13)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from btcbot.adapters.sim.market import DEFAULT_VOLATILITY_BPS, BookShape
from btcbot.domain.errors import ConfigError
from btcbot.domain.fees import VAT_RATE
from btcbot.domain.symbols import split_symbol

__all__ = ["DEFAULT_PAIRS", "MAX_PRICE", "MIN_PRICE", "PairSpec", "SimConfig"]

MIN_PRICE = Decimal("0.0000000000001")  # PRICE_FILTER.minPrice
MAX_PRICE = Decimal("10000000")  # PRICE_FILTER.maxPrice

_TRY_MAKER, _TRY_TAKER = Decimal("0.0012"), Decimal("0.0024")
_USDT_MAKER, _USDT_TAKER = Decimal("0.0010"), Decimal("0.0014")
_TRY_MIN = Decimal("99.91")
_USDT_MIN = Decimal("10")


@dataclass(frozen=True, slots=True)
class PairSpec:
    """One simulated pair: scales as exchangeinfo reports them, min notional, start price and fees.

    `quote_scale` is `denominatorScale` (market-buy quote amounts are validated against it);
    `price_scale` is the number of decimals a limit price may have.
    """

    symbol: str
    base_scale: int
    quote_scale: int
    price_scale: int
    tick_size: Decimal
    min_notional: Decimal
    start_price: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    market_orders: bool = True

    def __post_init__(self) -> None:
        try:
            split_symbol(self.symbol)
        except ValueError as exc:
            raise ConfigError(f"sim pair: {exc}") from exc
        if self.start_price <= 0 or self.min_notional <= 0:
            raise ConfigError(f"sim pair {self.symbol}: start_price and min_notional must be positive")
        if min(self.base_scale, self.quote_scale, self.price_scale) < 0:
            raise ConfigError(f"sim pair {self.symbol}: scales must be >= 0")
        if not (0 <= self.maker_fee < 1 and 0 <= self.taker_fee < 1):
            raise ConfigError(f"sim pair {self.symbol}: fee rates must be in [0, 1)")

    @property
    def base(self) -> str:
        return split_symbol(self.symbol)[0]

    @property
    def quote(self) -> str:
        return split_symbol(self.symbol)[1]


DEFAULT_PAIRS: tuple[PairSpec, ...] = (
    PairSpec("BTCTRY", 8, 2, 0, Decimal("1"), _TRY_MIN, Decimal("3500000"), _TRY_MAKER, _TRY_TAKER),
    PairSpec("ETHTRY", 8, 2, 0, Decimal("1"), _TRY_MIN, Decimal("120000"), _TRY_MAKER, _TRY_TAKER),
    PairSpec("USDTTRY", 2, 3, 3, Decimal("0.001"), _TRY_MIN, Decimal("42.500"), _TRY_MAKER, _TRY_TAKER),
    PairSpec("BTCUSDT", 8, 0, 0, Decimal("1"), _USDT_MIN, Decimal("85000"), _USDT_MAKER, _USDT_TAKER),
)


_SHAPE = BookShape()  # the book-shape defaults live in one place: BookShape


def _default_balances() -> dict[str, Decimal]:
    return {"TRY": Decimal("20000"), "USDT": Decimal("2000")}


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Knobs of the simulated exchange.

    Market shape (random-walk feed): every `tick_seconds` the mid moves by a seeded Gaussian step with a
    standard deviation of `volatility_bps`; books have `depth` levels per side, `spread_bps` between best
    bid and ask and `level_step_bps` between levels. A level's notional is about
    `level_notional_multiple` × the pair's min notional (±70%), except that with
    `thin_level_probability` it is only 0.5–2.5 × the min notional, so small orders sometimes fill
    partially. With `flow_probability` per side and tick other traders hit the touch, which fills
    resting orders priced at or through the best bid/ask (maker).

    `seed` only applies when a market is created; a re-opened database keeps its stored seed.
    `start_price` and `initial_balances` likewise only apply at creation (and to pairs/assets added later).
    With `auto_advance` every call of the exchange first advances the market to `clock.now()`.
    """

    seed: int = 42
    tick_seconds: int = 60
    max_ticks_per_advance: int = 1440
    volatility_bps: Decimal = DEFAULT_VOLATILITY_BPS
    spread_bps: Decimal = _SHAPE.spread_bps
    depth: int = _SHAPE.depth
    level_step_bps: Decimal = _SHAPE.level_step_bps
    level_notional_multiple: Decimal = _SHAPE.level_notional_multiple
    thin_level_probability: Decimal = _SHAPE.thin_level_probability
    flow_probability: Decimal = _SHAPE.flow_probability
    pairs: tuple[PairSpec, ...] = DEFAULT_PAIRS
    initial_balances: Mapping[str, Decimal] = field(default_factory=_default_balances)
    tax_rate: Decimal = VAT_RATE
    band_factor: Decimal = Decimal("10")
    market_slippage: Decimal = Decimal("0.05")
    cancel_delay_seconds: float = 0.0
    fill_delay_seconds: float = 0.0
    auto_advance: bool = True
    first_order_id: int = 10_000_000_000
    first_trade_id: int = 1_181_163_798_924_640_000

    @property
    def book_shape(self) -> BookShape:
        """The random-walk feed's book shape from these knobs."""
        return BookShape(
            spread_bps=self.spread_bps,
            depth=self.depth,
            level_step_bps=self.level_step_bps,
            level_notional_multiple=self.level_notional_multiple,
            thin_level_probability=self.thin_level_probability,
            flow_probability=self.flow_probability,
        )

    def __post_init__(self) -> None:
        if self.tick_seconds <= 0 or self.max_ticks_per_advance <= 0 or self.depth <= 0:
            raise ConfigError("sim: tick_seconds, max_ticks_per_advance and depth must be positive")
        if self.volatility_bps < 0 or self.spread_bps <= 0 or self.level_step_bps < 0:
            raise ConfigError("sim: volatility_bps/level_step_bps must be >= 0 and spread_bps > 0")
        if self.cancel_delay_seconds < 0 or self.fill_delay_seconds < 0:
            raise ConfigError("sim: cancel_delay_seconds and fill_delay_seconds must be >= 0")
        if self.band_factor <= 1 or not 0 <= self.market_slippage < 1:
            raise ConfigError("sim: band_factor must be > 1 and market_slippage in [0, 1)")
        symbols = [p.symbol for p in self.pairs]
        if not symbols or len(set(symbols)) != len(symbols):
            raise ConfigError("sim: pairs must be non-empty and unique")
        if any(amount < 0 for amount in self.initial_balances.values()):
            raise ConfigError("sim: initial balances must be >= 0")

    def pair(self, symbol: str) -> PairSpec | None:
        for spec in self.pairs:
            if spec.symbol == symbol:
                return spec
        return None

    @property
    def assets(self) -> list[str]:
        """Every asset of the configured pairs and balances, sorted."""
        names = set(self.initial_balances)
        for spec in self.pairs:
            names.update((spec.base, spec.quote))
        return sorted(names)

    def with_start_prices(self, prices: Mapping[str, Decimal]) -> SimConfig:
        """A copy whose pairs start at the given prices (unknown symbols raise ConfigError)."""
        unknown = set(prices) - {p.symbol for p in self.pairs}
        if unknown:
            raise ConfigError(f"sim: unknown pairs in start prices: {sorted(unknown)}")
        pairs = tuple(replace(p, start_price=prices.get(p.symbol, p.start_price)) for p in self.pairs)
        return replace(self, pairs=pairs)
