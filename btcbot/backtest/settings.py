"""Settings of a backtest: the usual sources plus `--set KEY=VALUE` overrides, validated by the settings model.

A backtest never uses the venue, the state directory, keys or the arming gates, so those settings cannot be
overridden (`NOT_FOR_BACKTESTS`); every other setting can, by its name (`min_profit_bps`) or its environment
variable (`BTCBOT_MIN_PROFIT_BPS`). Values are validated exactly as in `config/btcbot.toml`: an unknown key or
a bad value is a ConfigError (exit 2) naming it.

`frozen(settings)` / `thaw(data, params)` carry resolved settings to another process or machine (sweeps):
the data is plain JSON-able values, and thawing validates it again without reading the environment or any
file, so a point computes the same wherever it runs.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from btcbot.config import Settings, _describe, env_name, load_settings
from btcbot.domain.errors import ConfigError

__all__ = ["NOT_FOR_BACKTESTS", "backtest_settings", "frozen", "parse_sets", "setting_name", "thaw"]

NOT_FOR_BACKTESTS = frozenset({
    "exchange", "base_url", "graph_url", "api_key", "api_secret", "state_dir", "symbols", "dry_run", "kill_switch",
    "live_trading", "live_trading_ack", "log_format", "http_timeout_seconds", "sim_seed", "sim_step_seconds",
})
_HINTS = {"symbols": "use --symbol", "sim_seed": "use --seed"}


def setting_name(key: str, option: str = "--set") -> str:
    """The settings field a key names (`min_profit_bps`, `MIN_PROFIT_BPS` or `BTCBOT_MIN_PROFIT_BPS`)."""
    name = key.strip().lower().removeprefix("btcbot_")
    if name not in Settings.model_fields:
        known = sorted(set(Settings.model_fields) - NOT_FOR_BACKTESTS)
        hint = difflib.get_close_matches(name, known, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ConfigError(f"{option} {key.strip()}: unknown setting{suggestion}")
    if name in NOT_FOR_BACKTESTS:
        extra = f"; {_HINTS[name]}" if name in _HINTS else ""
        raise ConfigError(f"{option} {key.strip()}: {env_name(name)} does not apply to backtests{extra}")
    return name


def parse_sets(items: Iterable[str]) -> dict[str, str]:
    """`KEY=VALUE` strings → {setting name: value}; a later repeat of a key wins."""
    overrides: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set min_profit_bps=80")
        overrides[setting_name(key)] = value.strip()
    return overrides


def backtest_settings(config: Path | None, overrides: Mapping[str, str]) -> Settings:
    """Settings from the usual sources with `overrides` on top (validated like any other source)."""
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        if not overrides:
            raise
        shown = " ".join(f"{k}={v}" for k, v in overrides.items())
        raise ConfigError(f"--set {shown}: {exc}") from None


def frozen(settings: Settings) -> dict[str, Any]:
    """The resolved settings as JSON-able values (no secrets: backtests never use keys)."""
    return settings.model_dump(mode="json", exclude={"api_key", "api_secret"})


def thaw(data: Mapping[str, Any], params: Mapping[str, Any], where: str = "grid") -> Settings:
    """Settings from `frozen` data with `params` on top, validated again (no environment, no file)."""
    try:
        return Settings.model_validate({**data, **params})
    except ValidationError as exc:
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        raise ConfigError(f"{where} point {{{shown}}}: {_describe(exc)}") from None
