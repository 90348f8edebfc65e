"""Backtests: candles replayed through the same cycle against the simulator, sweeps and candle download."""
