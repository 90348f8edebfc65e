"""In-process simulated BTCTurk exchange: deterministic matching engine, market feeds, SQLite state."""

from btcbot.adapters.sim.config import DEFAULT_PAIRS, PairSpec, SimConfig
from btcbot.adapters.sim.engine import MatchingEngine, fee_and_tax
from btcbot.adapters.sim.exchange import SimExchange, random_walk_feed
from btcbot.adapters.sim.market import BookShape, BookSnapshotFeed, MarketFeed, MarketTick, RandomWalkFeed
from btcbot.adapters.sim.state import SimFill, SimOrder

__all__ = [
    "DEFAULT_PAIRS",
    "BookShape",
    "BookSnapshotFeed",
    "MarketFeed",
    "MarketTick",
    "MatchingEngine",
    "PairSpec",
    "RandomWalkFeed",
    "SimConfig",
    "SimExchange",
    "SimFill",
    "SimOrder",
    "fee_and_tax",
    "random_walk_feed",
]
