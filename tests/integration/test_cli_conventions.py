"""CLI conventions (issue 9, item 1): --version/-V, -h on every command and sub-command, shell completion, --json
errors on every data command, and a closed pipe that ends quietly (real processes, real pipes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from btcbot import __version__
from btcbot.cli import app

runner = CliRunner()


def _btcbot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "btcbot", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def _all_commands() -> list[list[str]]:
    """Every command path of the app, sub-commands included (e.g. ["backtest", "sweep"])."""
    found: list[list[str]] = []

    def walk(group: object, path: list[str]) -> None:
        for name, command in sorted(getattr(group, "commands", {}).items()):
            found.append([*path, name])
            walk(command, [*path, name])

    walk(get_command(app), [])
    return found


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_flag_prints_package_version_and_exits_0(flag: str) -> None:
    result = runner.invoke(app, [flag])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"btcbot {__version__}"


def test_version_in_real_process_prints_version_without_touching_state(isolated_env: Path) -> None:
    result = _btcbot("--version")
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, f"btcbot {__version__}", "")
    assert not isolated_env.exists()


def test_short_help_works_on_every_command_and_subcommand() -> None:
    commands = _all_commands()
    assert ["backtest", "sweep"] in commands and ["sim", "serve"] in commands and ["status"] in commands
    for path in [[], *commands]:
        result = runner.invoke(app, [*path, "-h"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output and "--help" in result.output, path


def test_help_offers_shell_completion_and_bash_script_completes_commands() -> None:
    assert "--install-completion" in runner.invoke(app, ["--help"]).output
    console_script = str(Path(sys.executable).parent / "btcbot")  # the installed `btcbot` (completion is by name)

    def installed(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([console_script, *args], env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=120)

    script = installed("--show-completion", "bash")
    assert script.returncode == 0 and "complete -o default -F _btcbot_completion btcbot" in script.stdout
    completed = installed(_BTCBOT_COMPLETE="complete_bash", COMP_WORDS="btcbot sta", COMP_CWORD="1")
    assert set(completed.stdout.split()) == {"status", "stage4-run", "stage7-run"}


DATA_COMMANDS = [["run"], ["stage4-run"], ["stage7-run"], ["stage7-run", "--with-stage4"], ["status"],
                 ["reconcile"], ["reconcile", "--apply"], ["doctor"], ["compact"], ["compact", "--apply"],
                 ["backtest", "--sample"],
                 ["backtest", "sweep", "--sample", "--grid", "grid.toml"]]


@pytest.mark.parametrize("command", DATA_COMMANDS, ids=" ".join)
def test_json_data_command_failure_prints_error_object_on_stdout(command: list[str], isolated_env: Path) -> None:
    result = runner.invoke(app, [*command, "--json", "--config", "missing.toml"])
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout) == {"error": "--config: file missing.toml does not exist", "exit_code": 2}
    assert result.stderr.strip().splitlines() == ["btcbot: --config: file missing.toml does not exist"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_json_doctor_with_a_failed_check_exit_4_names_it_in_error() -> None:
    env = {"BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": f"http://127.0.0.1:{_closed_port()}",
           "BTCTURK_API_KEY": "k", "BTCTURK_API_SECRET": "c2VjcmV0", "BTCBOT_HTTP_TIMEOUT_SECONDS": "2"}
    assert runner.invoke(app, ["halt"], env=env).exit_code == 0  # a journal for btcturk (doctor creates none)
    result = runner.invoke(app, ["doctor", "--json"], env=env)
    data = json.loads(result.stdout)
    assert result.exit_code == 4 and data["exit_code"] == 4
    assert data["error"].startswith("clock: ")


# -- a closed pipe: the reader went away before btcbot wrote (`btcbot status | head -1`) ----------------------
def _with_closed_stdout(*args: str, **env: str) -> tuple[int, str]:
    """Run btcbot with stdout a pipe whose read end is already closed: every write to it fails (EPIPE)."""
    proc = subprocess.Popen([sys.executable, "-m", "btcbot", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **env})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err


@pytest.fixture
def journal(isolated_env: Path) -> Path:
    assert runner.invoke(app, ["run"]).exit_code == 0
    return isolated_env


@pytest.mark.parametrize("args", [["status"], ["status", "--json", "--fills", "5"], ["run"], ["run", "--json"],
                                  ["--help"]], ids=" ".join)
def test_closed_pipe_ends_quietly_with_exit_0(args: list[str], journal: Path) -> None:
    code, err = _with_closed_stdout(*args, BTCBOT_SIM_STEP_SECONDS="300")
    assert (code, err) == (0, "")


def test_closed_pipe_keeps_a_failed_cycles_exit_code(journal: Path) -> None:
    code, err = _with_closed_stdout("run", BTCBOT_TEST_CRASH_AT="tx:run_cycle:before",
                                    BTCBOT_TEST_CRASH_MODE="raise")
    assert code == 1 and err.startswith("btcbot: internal error (CrashPointReached)")


def test_shell_pipeline_status_head_exits_0(journal: Path) -> None:
    script = f'"{sys.executable}" -m btcbot status | head -1 >/dev/null; echo "${{PIPESTATUS[0]}}"'
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ))
    assert (result.stdout.strip(), result.stderr) == ("0", "")
