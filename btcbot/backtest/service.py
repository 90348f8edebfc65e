"""From command-line inputs to a checked BacktestSpec (settings, stage, candles), before anything runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from btcbot.backtest.inputs import load_candles
from btcbot.backtest.runner import BacktestSpec
from btcbot.backtest.settings import backtest_settings, parse_sets
from btcbot.bootstrap import stage_builder
from btcbot.domain.errors import ConfigError

__all__ = ["backtest_spec"]


def backtest_spec(sample: bool, candles: Path | None, symbol: str | None, stage: str, start: str | None,
                  end: str | None, seed: int, every: int, sets: Sequence[str], config: Path | None) -> BacktestSpec:
    """Validate every input (settings, overrides, stage, candles); each problem is a ConfigError (exit 2)."""
    overrides = parse_sets(sets)
    settings = backtest_settings(config, overrides)
    stage_builder(stage)
    if every < 1:
        raise ConfigError("--every must be at least 1")
    data = load_candles(sample, candles, symbol, start, end)
    return BacktestSpec(settings=settings, symbol=data.symbol, candles=data.candles, stage=stage, seed=seed,
                        every=every, overrides=overrides, data_sha256=data.sha256)
