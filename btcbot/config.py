"""Settings (SPEC §0.3): CLI flag > environment > .env > config/btcbot.toml > default.

Every setting is `BTCBOT_<NAME>` in the environment except the BTCTurk connection settings, which are
`BTCTURK_<NAME>`. Validation problems become ConfigError naming the setting (exit 2, no traceback).
"""

from __future__ import annotations

import difflib
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from btcbot.domain.errors import ConfigError
from btcbot.domain.money import FloatRejected, to_decimal
from btcbot.domain.symbols import SYMBOL_RE, split_symbol

__all__ = ["ACK_PHRASE", "DEFAULT_CONFIG_PATH", "Settings", "env_name", "insecure_url", "load_settings"]

ACK_PHRASE = "I_UNDERSTAND"
DEFAULT_CONFIG_PATH = Path("config/btcbot.toml")
_BTCTURK_FIELDS = ("base_url", "graph_url", "api_key", "api_secret")
_SECRETS = ("api_key", "api_secret", "notify_url")  # environment or .env only, never the TOML file


def _btcturk(name: str) -> Any:
    return AliasChoices(f"btcturk_{name}", f"BTCTURK_{name.upper()}")


Money = Annotated[Decimal, Field()]


class Settings(BaseSettings):
    """All of btcbot's settings with their defaults (documented in config/btcbot.example.toml)."""

    model_config = SettingsConfigDict(
        env_prefix="BTCBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    # -- venue and secrets ---------------------------------------------------------------------------
    exchange: Literal["sim", "btcturk"] = "sim"
    base_url: str = Field("https://api.btcturk.com", validation_alias=_btcturk("base_url"))
    graph_url: str = Field("https://graph-api.btcturk.com", validation_alias=_btcturk("graph_url"))
    api_key: SecretStr | None = Field(None, validation_alias=_btcturk("api_key"))
    api_secret: SecretStr | None = Field(None, validation_alias=_btcturk("api_secret"))
    state_dir: Path = Path("state")
    symbols: Annotated[list[str], NoDecode] = ["BTCTRY", "ETHTRY", "USDTTRY"]

    # -- safety gates (R-SAFE-1) ---------------------------------------------------------------------
    dry_run: bool = True
    kill_switch: bool = True
    live_trading: bool = False
    live_trading_ack: str | None = None
    log_format: Literal["text", "json"] = "text"
    http_timeout_seconds: int = 15
    pnl_timezone: str = "Europe/Istanbul"

    # -- stage-3 strategy (R-STRAT) ------------------------------------------------------------------
    order_notional_try: Decimal = Decimal("250")
    min_profit_bps: Decimal = Decimal("50")
    stop_loss_bps: Decimal = Decimal("0")  # 0 = off
    take_profit_bps: Decimal = Decimal("0")  # 0 = off
    position_ttl_minutes: int = 0  # 0 = off
    exit_ladder_step_bps: Decimal = Decimal("10")
    exit_max_slippage_bps: Decimal = Decimal("300")
    trailing_stop_bps: Decimal = Decimal("0")  # 0 = off
    trailing_activation_bps: Decimal = Decimal("0")  # 0 = armed at once

    # -- stage-7 strategy "target allocation" (R-STRAT) ----------------------------------------------
    target_weights: Annotated[dict[str, Decimal], NoDecode] = {}  # empty: 3% per base asset (allocation.py)
    rebalance_band_bps: Decimal = Decimal("50")

    # -- risk (R-RISK) -------------------------------------------------------------------------------
    cash_target_try: Decimal = Decimal("0")
    max_order_notional_try: Decimal = Decimal("1000")
    max_cycle_notional_try: Decimal = Decimal("2000")
    max_position_notional_try: Decimal = Decimal("5000")
    max_open_orders: int = 6
    max_open_orders_per_symbol: int = 2
    cooldown_seconds: int = 0
    balance_tolerance_bps: Decimal = Decimal("10")
    balance_mismatch_reduce_only: bool = True
    # stage-4 account guards (R-RISK, R-SAFE-2); 0 = off
    max_drawdown_pct: Decimal = Decimal("10")
    daily_loss_cap_try: Decimal = Decimal("500")
    risk_breach_state: Literal["REDUCE_ONLY", "HALTED"] = "REDUCE_ONLY"

    # -- execution and reconciliation (R-EXEC, R-REC) ------------------------------------------------
    stale_order_seconds: int = 900
    stale_price_bps: Decimal = Decimal("50")
    dedupe_bucket_seconds: int = 60
    unknown_order_max_probes: int = 3
    unknown_order_max_age_seconds: int = 300
    market_data_max_age_seconds: int = 60

    # -- circuit breaker (R-REL-1) --------------------------------------------------------------------
    breaker_failures: int = Field(5, ge=0)  # failed cycles in the window (and >= half of them) that open it; 0 = off
    breaker_window_seconds: int = Field(900, gt=0)
    breaker_cooloff_seconds: int = Field(300, gt=0)

    # -- notifications (off unless a URL is set; best effort, after the cycle is committed) --------------
    notify_url: SecretStr | None = None  # webhook URL, or Telegram's https://api.telegram.org/bot<token>
    notify_kind: Literal["webhook", "telegram"] = "webhook"
    notify_telegram_chat_id: str | None = None

    # -- simulator -----------------------------------------------------------------------------------
    sim_seed: int = 42
    sim_step_seconds: int = 0  # 0 = advance by the wall-clock time since the last run

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(",")]
        if isinstance(value, list | tuple):
            cleaned = [str(part).strip().upper().replace("_", "") for part in value if str(part).strip()]
            for original, symbol in zip(value, cleaned, strict=False):
                if not SYMBOL_RE.match(symbol):
                    raise ValueError(f"{original!r} is not a pair like BTCTRY or BTCUSDT")
            if not cleaned:
                raise ValueError("at least one pair is required")
            return list(dict.fromkeys(cleaned))
        return value

    @field_validator(
        "order_notional_try",
        "min_profit_bps",
        "stop_loss_bps",
        "take_profit_bps",
        "exit_ladder_step_bps",
        "exit_max_slippage_bps",
        "trailing_stop_bps",
        "trailing_activation_bps",
        "cash_target_try",
        "max_order_notional_try",
        "max_cycle_notional_try",
        "max_position_notional_try",
        "stale_price_bps",
        "balance_tolerance_bps",
        "rebalance_band_bps",
        "max_drawdown_pct",
        "daily_loss_cap_try",
        mode="before",
    )
    @classmethod
    def _decimal_from_text(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("write amounts as strings or integers, e.g. \"250\" (floats lose precision)")
        return to_decimal(value) if isinstance(value, str | int | Decimal) else value

    @field_validator("target_weights", mode="before")
    @classmethod
    def _parse_weights(cls, value: Any) -> Any:
        """`BTC=0.05,ETH=0.05` (environment) or a TOML table `{ BTC = "0.05" }`; assets upper-cased."""
        if isinstance(value, str):
            pairs = [part.strip() for part in value.split(",") if part.strip()]
            if any(part.count("=") != 1 for part in pairs):
                raise ValueError(f"{value!r} is not a list like BTC=0.05,ETH=0.05")
            value = dict(part.split("=") for part in pairs)
        if not isinstance(value, dict):
            raise ValueError("write the weights as BTC=0.05,ETH=0.05 or a TOML table { BTC = \"0.05\" }")
        weights: dict[str, Decimal] = {}
        for asset, weight in value.items():
            if isinstance(weight, float):
                raise ValueError(f"{asset}: write weights as strings, e.g. \"0.05\" (floats lose precision)")
            if not isinstance(weight, str | int | Decimal):
                raise ValueError(f"{asset}: {weight!r} is not a number")
            try:
                weights[str(asset).strip().upper()] = to_decimal(str(weight).strip())
            except (ValueError, ArithmeticError):
                raise ValueError(f"{asset}: {weight!r} is not a number") from None
        return weights

    @field_validator("pnl_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone (e.g. Europe/Istanbul, UTC)") from None
        return value

    @model_validator(mode="after")
    def _no_plain_http_with_keys(self) -> Settings:
        """Signed requests never travel unencrypted to another machine (loopback http stays: tests)."""
        if self.exchange == "btcturk" and self.keys_present:
            for name in ("base_url", "graph_url"):
                problem = insecure_url(getattr(self, name))
                if problem:
                    raise ValueError(f"{env_name(name)}: {problem}")
        return self

    @model_validator(mode="after")
    def _check_notify(self) -> Settings:
        """The notification URL carries a secret (a token): https only (http to a loopback address for tests)."""
        url = self.notify_url.get_secret_value() if self.notify_url else ""
        if not url:
            return self
        problem = insecure_url(url)
        if problem:
            raise ValueError(f"BTCBOT_NOTIFY_URL: {problem.replace('the API key and signatures', 'its token')}")
        if self.notify_kind == "telegram" and not self.notify_telegram_chat_id:
            raise ValueError("BTCBOT_NOTIFY_TELEGRAM_CHAT_ID is required with BTCBOT_NOTIFY_KIND=telegram")
        return self

    @model_validator(mode="after")
    def _check_ranges(self) -> Settings:
        positive = ("order_notional_try", "max_order_notional_try", "max_cycle_notional_try",
                    "max_position_notional_try", "dedupe_bucket_seconds", "stale_order_seconds",
                    "market_data_max_age_seconds", "http_timeout_seconds")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{env_name(name)} must be greater than 0")
        non_negative = ("min_profit_bps", "stop_loss_bps", "take_profit_bps", "position_ttl_minutes",
                        "exit_ladder_step_bps", "exit_max_slippage_bps", "trailing_stop_bps",
                        "trailing_activation_bps", "cash_target_try",
                        "max_open_orders", "max_open_orders_per_symbol", "cooldown_seconds",
                        "stale_price_bps", "balance_tolerance_bps", "unknown_order_max_probes",
                        "unknown_order_max_age_seconds", "sim_step_seconds", "rebalance_band_bps",
                        "max_drawdown_pct", "daily_loss_cap_try")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"{env_name(name)} must not be negative")
        if self.trailing_stop_bps >= 10_000:
            raise ValueError("BTCBOT_TRAILING_STOP_BPS must be below 10000 (a trail of 100 % never triggers)")
        if self.max_drawdown_pct >= 100:
            raise ValueError("BTCBOT_MAX_DRAWDOWN_PCT must be below 100 (a percentage; 0 = off)")
        self._check_weights()
        if self.order_notional_try > self.max_order_notional_try:
            raise ValueError(
                f"BTCBOT_ORDER_NOTIONAL_TRY ({self.order_notional_try}) exceeds "
                f"BTCBOT_MAX_ORDER_NOTIONAL_TRY ({self.max_order_notional_try})"
            )
        if self.live_trading_ack not in (None, "", ACK_PHRASE):
            raise ValueError(
                f"BTCBOT_LIVE_TRADING_ACK is set but is not {ACK_PHRASE!r}; set it to exactly "
                f"{ACK_PHRASE} to arm live trading, or unset it"
            )
        return self

    def _check_weights(self) -> None:
        bases = {split_symbol(s)[0] for s in self.symbols}
        for asset, weight in self.target_weights.items():
            if not 0 <= weight <= 1:
                raise ValueError(f"BTCBOT_TARGET_WEIGHTS: {asset}={weight} is not between 0 and 1")
            if asset not in bases:
                raise ValueError(f"BTCBOT_TARGET_WEIGHTS: {asset} is not the base asset of a configured pair "
                                 f"(BTCBOT_SYMBOLS: {', '.join(self.symbols)})")
        total = sum(self.target_weights.values(), Decimal(0))
        if total > 1:
            raise ValueError(f"BTCBOT_TARGET_WEIGHTS: the weights add up to {total}, more than 1")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, dotenv_settings, _TomlSource(settings_cls)

    # -- derived -------------------------------------------------------------------------------------
    @property
    def keys_present(self) -> bool:
        return bool(self.api_key and self.api_key.get_secret_value()) and bool(
            self.api_secret and self.api_secret.get_secret_value()
        )

    def missing_live_gates(self) -> list[str]:
        """Static arming gates that are not satisfied (the persisted trading state is checked later)."""
        missing = []
        if self.dry_run:
            missing.append("BTCBOT_DRY_RUN is true")
        if self.kill_switch:
            missing.append("BTCBOT_KILL_SWITCH is true")
        if not self.live_trading:
            missing.append("BTCBOT_LIVE_TRADING is not true")
        if self.live_trading_ack != ACK_PHRASE:
            missing.append(f"BTCBOT_LIVE_TRADING_ACK is not {ACK_PHRASE}")
        if self.exchange == "btcturk" and not self.keys_present:
            missing.append("BTCTURK_API_KEY/BTCTURK_API_SECRET are not set")
        return missing


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file chosen by --config (default config/btcbot.toml, optional)."""

    path: Path = DEFAULT_CONFIG_PATH
    required: bool = False

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _TomlSource.path
        if not path.exists():
            if _TomlSource.required:
                raise ConfigError(f"--config: file {path} does not exist")
            return {}
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        known = set(Settings.model_fields)
        flat: dict[str, Any] = {}
        for key, value in data.items():
            name = key.lower().removeprefix("btcturk_")
            if name in _SECRETS:
                raise ConfigError(f"{path}: {key!r} is not allowed in the TOML file; set {env_name(name)} in the "
                                  "environment or .env instead (and remove it from the file)")
            name = key.lower()
            if name not in known:
                hint = difflib.get_close_matches(name, sorted(known), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise ConfigError(f"{path}: unknown setting {key!r}{suggestion}")
            flat[name] = value
        return flat


def insecure_url(url: str) -> str | None:
    """Why `url` must not carry signed requests (None when it is https, or http to a loopback host)."""
    from ipaddress import ip_address
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https":
        return None
    host = parts.hostname or ""
    if parts.scheme == "http":
        try:
            loopback = host == "localhost" or ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return None
        return (f"plain http to {host or '?'} would send the API key and signatures unencrypted; use https "
                "(http is allowed only to a loopback address)")
    return f"{parts.scheme or 'no'} scheme; use an https:// URL"


def env_name(field_name: str) -> str:
    """The environment variable that sets `field_name`."""
    if field_name in _BTCTURK_FIELDS:
        return f"BTCTURK_{field_name.upper()}"
    return f"BTCBOT_{field_name.upper()}"


def load_settings(config_path: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from every source; raise ConfigError (exit 2) naming the offending setting."""
    _TomlSource.path = config_path or DEFAULT_CONFIG_PATH
    _TomlSource.required = config_path is not None
    cli = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**cli)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except FloatRejected as exc:
        raise ConfigError(str(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if loc and loc[0] in Settings.model_fields:
            lines.append(f"{env_name(loc[0])}: {message}")
        else:
            lines.append(message)
    return "invalid configuration: " + "; ".join(lines)
