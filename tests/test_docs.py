"""The docs stay true: every setting and command is documented, and every command has help text."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command
from typer.testing import CliRunner

from btcbot.cli import app
from btcbot.config import Settings, env_name

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
EXAMPLE = (ROOT / "config" / "btcbot.example.toml").read_text()


def _commands() -> list[str]:
    group = get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def test_every_setting_is_in_readme_table_and_example_toml() -> None:
    for name in Settings.model_fields:
        assert f"`{env_name(name)}" in README, f"{env_name(name)} missing from README"
        assert env_name(name) in EXAMPLE, f"{env_name(name)} missing from config/btcbot.example.toml"


def test_every_command_is_documented_and_has_help() -> None:
    runner = CliRunner()
    for command in _commands():
        assert re.search(rf"`btcbot {command}\b", README), f"btcbot {command} missing from README"
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert len(result.output.strip().splitlines()) > 3


def test_ci_runs_the_readme_install_and_test_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    install = re.search(r"```bash\n(python3 -m venv[^\n]+)\n```", README)
    assert install is not None
    assert install.group(1) in ci
    assert ".venv/bin/pytest" in README and ".venv/bin/pytest" in ci


def test_readme_states_the_clock_skew_limit_doctor_checks() -> None:
    from btcbot.services.doctor import MAX_SKEW

    assert f"the check fails beyond ±{MAX_SKEW.seconds} s" in README.replace("\n", " ")
