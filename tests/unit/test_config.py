from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from btcbot.config import ACK_PHRASE, load_settings
from btcbot.domain.errors import ConfigError


def test_settings_defaults_are_safe() -> None:
    settings = load_settings()
    assert settings.exchange == "sim"
    assert settings.dry_run is True
    assert settings.kill_switch is True
    assert settings.live_trading is False
    assert settings.order_notional_try == Decimal("250")
    assert settings.symbols == ["BTCTRY", "ETHTRY", "USDTTRY"]
    assert len(settings.missing_live_gates()) == 4


def test_settings_symbols_comma_list_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_SYMBOLS", " btc_try, ethusdt ,BTCTRY")
    assert load_settings().symbols == ["BTCTRY", "ETHUSDT"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("BTCBOT_SYMBOLS", "BTCEUR", "BTCBOT_SYMBOLS: 'BTCEUR' is not a pair"),
        ("BTCBOT_DRY_RUN", "maybe", "BTCBOT_DRY_RUN"),
        ("BTCBOT_ORDER_NOTIONAL_TRY", "-5", "BTCBOT_ORDER_NOTIONAL_TRY must be greater than 0"),
        ("BTCBOT_ORDER_NOTIONAL_TRY", "abc", "BTCBOT_ORDER_NOTIONAL_TRY"),
        ("BTCBOT_EXCHANGE", "binance", "BTCBOT_EXCHANGE"),
        ("BTCBOT_LIVE_TRADING_ACK", "yes", f"set it to exactly {ACK_PHRASE}"),
        ("BTCBOT_MAX_OPEN_ORDERS", "-1", "BTCBOT_MAX_OPEN_ORDERS must not be negative"),
        ("BTCBOT_TRAILING_STOP_BPS", "-1", "BTCBOT_TRAILING_STOP_BPS must not be negative"),
        ("BTCBOT_TRAILING_STOP_BPS", "10000", "BTCBOT_TRAILING_STOP_BPS must be below 10000"),
        ("BTCBOT_TRAILING_ACTIVATION_BPS", "-5", "BTCBOT_TRAILING_ACTIVATION_BPS must not be negative"),
    ],
)
def test_settings_invalid_value_raises_config_error_naming_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        load_settings()


def test_settings_precedence_cli_over_env_over_dotenv_over_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("config").mkdir()
    Path("config/btcbot.toml").write_text('order_notional_try = "111"\nmin_profit_bps = "7"\n'
                                          'cooldown_seconds = 5\nsim_seed = 1\n')
    Path(".env").write_text("BTCBOT_MIN_PROFIT_BPS=8\nBTCBOT_COOLDOWN_SECONDS=6\n")
    monkeypatch.setenv("BTCBOT_COOLDOWN_SECONDS", "9")
    settings = load_settings(None, sim_seed=3)
    assert settings.order_notional_try == Decimal("111")  # toml
    assert settings.min_profit_bps == Decimal("8")  # .env beats toml
    assert settings.cooldown_seconds == 9  # env beats .env
    assert settings.sim_seed == 3  # CLI beats everything


def test_settings_toml_typo_is_named_with_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("order_notional = 100\n")
    with pytest.raises(ConfigError, match=r"unknown setting .order_notional. .*did you mean .order_notional_try."):
        load_settings(path)


def test_settings_toml_float_amount_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("order_notional_try = 100.5\n")
    with pytest.raises(ConfigError, match="BTCBOT_ORDER_NOTIONAL_TRY: write amounts as strings"):
        load_settings(path)


def test_settings_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_settings_secrets_are_masked_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCTURK_API_KEY", "public-key-123")
    monkeypatch.setenv("BTCTURK_API_SECRET", "c2VjcmV0")
    settings = load_settings()
    assert "c2VjcmV0" not in repr(settings)
    assert "c2VjcmV0" not in str(settings.model_dump())
    assert settings.keys_present


def test_settings_fully_armed_has_no_missing_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"BTCBOT_DRY_RUN": "false", "BTCBOT_KILL_SWITCH": "false", "BTCBOT_LIVE_TRADING": "true",
                        "BTCBOT_LIVE_TRADING_ACK": ACK_PHRASE, "BTCBOT_EXCHANGE": "btcturk",
                        "BTCTURK_API_KEY": "k", "BTCTURK_API_SECRET": "c2VjcmV0"}.items():
        monkeypatch.setenv(name, value)
    assert load_settings().missing_live_gates() == []
    monkeypatch.delenv("BTCTURK_API_SECRET")
    assert load_settings().missing_live_gates() == ["BTCTURK_API_KEY/BTCTURK_API_SECRET are not set"]


def test_settings_target_weights_from_environment_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_TARGET_WEIGHTS", " btc=0.05, ETH = 0.1 ")
    settings = load_settings()
    assert settings.target_weights == {"BTC": Decimal("0.05"), "ETH": Decimal("0.1")}
    assert settings.rebalance_band_bps == Decimal("50")


def test_settings_target_weights_from_toml_inline_table(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('target_weights = { BTC = "0.2", USDT = 0 }\nrebalance_band_bps = "25"\n')
    settings = load_settings(path)
    assert settings.target_weights == {"BTC": Decimal("0.2"), "USDT": Decimal(0)}
    assert settings.rebalance_band_bps == Decimal("25")


@pytest.mark.parametrize(("value", "expected"), [
    ("BTC=1.5", "BTCBOT_TARGET_WEIGHTS: BTC=1.5 is not between 0 and 1"),
    ("BTC=-0.1", "BTCBOT_TARGET_WEIGHTS: BTC=-0.1 is not between 0 and 1"),
    ("BTC=0.6,ETH=0.5", "BTCBOT_TARGET_WEIGHTS: the weights add up to 1.1, more than 1"),
    ("XRP=0.1", "BTCBOT_TARGET_WEIGHTS: XRP is not the base asset of a configured pair"),
    ("TRY=0.1", "BTCBOT_TARGET_WEIGHTS: TRY is not the base asset of a configured pair"),
    ("BTC", "BTCBOT_TARGET_WEIGHTS: 'BTC' is not a list like BTC=0.05,ETH=0.05"),
    ("BTC=lots", "BTCBOT_TARGET_WEIGHTS: BTC: 'lots' is not a number"),
])
def test_settings_bad_target_weights_raise_config_error_naming_setting(monkeypatch: pytest.MonkeyPatch, value: str,
                                                                       expected: str) -> None:
    monkeypatch.setenv("BTCBOT_TARGET_WEIGHTS", value)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_settings()


def test_settings_target_weights_toml_float_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("target_weights = { BTC = 0.05 }\n")
    with pytest.raises(ConfigError, match="BTCBOT_TARGET_WEIGHTS: BTC: write weights as strings"):
        load_settings(path)


def test_settings_target_weights_follow_cli_symbols(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_TARGET_WEIGHTS", "ETH=0.1")
    expected = "ETH is not the base asset of a configured pair (BTCBOT_SYMBOLS: BTCTRY)"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_settings(None, symbols="BTCTRY")
