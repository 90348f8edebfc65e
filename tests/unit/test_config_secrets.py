"""Secrets in settings (issue 8, finding 6): keys never come from the TOML file, and signed requests never go
over plain http to another machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcbot.cli import app
from btcbot.config import load_settings
from btcbot.domain.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"BTCTURK_API_KEY": "fake-key-123", "BTCTURK_API_SECRET": "ZmFrZS1zZWNyZXQ="}


@pytest.mark.parametrize(("setting", "env"), [
    ("api_key", "BTCTURK_API_KEY"), ("api_secret", "BTCTURK_API_SECRET"),
    ("btcturk_api_key", "BTCTURK_API_KEY"), ("BTCTURK_API_SECRET", "BTCTURK_API_SECRET"),
])
def test_toml_with_api_key_or_secret_is_refused_naming_it(tmp_path: Path, setting: str, env: str) -> None:
    toml = tmp_path / "btcbot.toml"
    toml.write_text(f'{setting} = "s3cr3t-value"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(toml)
    message = str(info.value)
    assert setting in message and env in message and "TOML" in message
    assert "s3cr3t-value" not in message


def test_cli_with_key_in_toml_exits_2_without_echoing_it(tmp_path: Path) -> None:
    toml = tmp_path / "btcbot.toml"
    toml.write_text('api_secret = "s3cr3t-value"\n')
    result = CliRunner().invoke(app, ["run", "--config", str(toml)])
    assert result.exit_code == 2
    assert "api_secret" in result.stderr and "s3cr3t-value" not in result.stdout + result.stderr


@pytest.mark.parametrize("setting", ["BTCTURK_BASE_URL", "BTCTURK_GRAPH_URL"])
@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.0.0.5:8080", "ftp://api.example.com"])
def test_plain_http_to_remote_host_with_keys_is_refused(monkeypatch: pytest.MonkeyPatch, setting: str,
                                                        url: str) -> None:
    for name, value in {**KEYS, "BTCBOT_EXCHANGE": "btcturk", setting: url}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert setting in str(info.value) and "https" in str(info.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:8080",
                                 "http://127.5.6.7", "https://api.btcturk.com"])
def test_https_or_loopback_http_with_keys_is_allowed(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for name, value in {**KEYS, "BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": url}.items():
        monkeypatch.setenv(name, value)
    assert load_settings().base_url == url


def test_plain_http_without_keys_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_EXCHANGE", "btcturk")
    monkeypatch.setenv("BTCTURK_BASE_URL", "http://api.example.com")
    assert load_settings().base_url == "http://api.example.com"  # public reads only: nothing to sign


def test_cli_plain_http_with_keys_exits_2_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**KEYS, "BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": "http://api.example.com"}
    result = CliRunner().invoke(app, ["doctor"], env=env)
    assert result.exit_code == 2
    assert "BTCTURK_BASE_URL" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_dockerignore_keeps_local_config_and_env_out_of_the_image() -> None:
    entries = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {"config/btcbot.toml", ".env"} <= entries
