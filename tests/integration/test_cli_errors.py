"""The CLI's error boundary (SPEC §0.1, §0.2): one stderr line for every failure, the traceback of a bug in the
log file only, and `{"error", "exit_code"}` on stdout for --json commands (exit codes unchanged)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcbot.adapters.lock import instance_lock
from btcbot.cli import app
from btcbot.logsetup import configure_logging

runner = CliRunner()


def _btcbot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "btcbot", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def _traceback_file(stderr: str) -> Path:
    return Path(stderr.strip().rsplit("traceback in ", 1)[1])


@pytest.mark.parametrize("point", ["cli:settings", "tx:Store.start_cycle:before"])
def test_cli_internal_error_in_real_process_prints_one_stderr_line_and_exits_1(point: str, isolated_env: Path) -> None:
    result = _btcbot("run", BTCBOT_TEST_CRASH_AT=point, BTCBOT_TEST_CRASH_MODE="raise")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("btcbot: internal error (CrashPointReached); traceback in ")
    kept = _traceback_file(result.stderr)
    text = kept.read_text()
    assert "Traceback (most recent call last)" in text and "CrashPointReached" in text
    if point.startswith("tx:"):  # logging knew the state dir: the traceback is in its log file
        assert kept == isolated_env / "logs" / "btcbot.log"
    else:  # before settings: a private temp file
        assert kept.stat().st_mode & 0o777 == 0o600
        kept.unlink()


def test_cli_interrupt_in_real_process_prints_one_stderr_line_and_exits_1(isolated_env: Path) -> None:
    result = _btcbot("run", BTCBOT_TEST_CRASH_AT="tx:Store.start_cycle:after", BTCBOT_TEST_CRASH_MODE="interrupt")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"btcbot: interrupted; traceback in {isolated_env}/logs/btcbot.log"]


def test_cli_internal_error_with_json_prints_error_object_on_stdout(isolated_env: Path) -> None:
    result = _btcbot("status", "--json", BTCBOT_TEST_CRASH_AT="cli:settings", BTCBOT_TEST_CRASH_MODE="raise")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["exit_code"] == 1 and data["error"].startswith("internal error (CrashPointReached)")
    assert len(result.stderr.strip().splitlines()) == 1
    _traceback_file(result.stderr).unlink()


def test_logging_record_with_traceback_reaches_stderr_as_one_line(tmp_path: Path,
                                                                    capfd: pytest.CaptureFixture[str]) -> None:
    path = configure_logging(tmp_path / "state")
    try:
        raise ValueError("first\nsecond")
    except ValueError:
        logging.getLogger("btcbot.test").error("something failed:\nwith detail", exc_info=True)
    finally:
        for handler in list(logging.getLogger("btcbot").handlers):
            logging.getLogger("btcbot").removeHandler(handler)
            handler.close()
    err = capfd.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "something failed: with detail" in err
    assert path is not None and "Traceback (most recent call last)" in path.read_text()


def test_cli_usage_error_with_json_prints_error_object(isolated_env: Path) -> None:
    result = _btcbot("status", "--json", "--no-such-flag")
    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert data["exit_code"] == 2 and "--no-such-flag" in data["error"]
    assert not isolated_env.exists()


# -- --json on failure (SPEC §0.1), in-process -----------------------------------------------------------------
def _json_failure(args: list[str], code: int, **env: str) -> dict[str, object]:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert data["exit_code"] == code and isinstance(data["error"], str) and data["error"]
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("btcbot: ")
    return data  # type: ignore[no-any-return]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_json_config_error_exit_2_prints_error_object() -> None:
    data = _json_failure(["run", "--json"], 2, BTCBOT_SYMBOLS="BTC-TRY!")
    assert "BTCBOT_SYMBOLS" in str(data["error"])


def test_json_exchange_unreachable_exit_3_prints_error_object() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    data = _json_failure(["reconcile", "--json"], 3, BTCBOT_EXCHANGE="btcturk", BTCTURK_BASE_URL=url,
                         BTCTURK_API_KEY="k", BTCTURK_API_SECRET="c2VjcmV0")
    assert "not sent" in str(data["error"]) or "unavailable" in str(data["error"]).lower()


def test_json_lock_busy_exit_75_prints_error_object(isolated_env: Path) -> None:
    isolated_env.mkdir(mode=0o700)
    with instance_lock(isolated_env):
        data = _json_failure(["run", "--json"], 75)
    assert "btcbot.lock" in str(data["error"])


def test_json_internal_error_exit_1_prints_error_object(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("btcbot.services.cycle.run_cycle", broken)
    data = _json_failure(["run", "--json"], 1)
    assert str(data["error"]).startswith("internal error (RuntimeError); traceback in ")


def test_error_outside_any_command_guard_is_one_line_and_exit_1(isolated_env: Path,
                                                                 capfd: pytest.CaptureFixture[str]) -> None:
    from btcbot.cli.boundary import run_main

    def broken_app(**kwargs: object) -> None:  # e.g. typer failing before a command's guard runs
        raise RuntimeError("typer internals")

    assert run_main(broken_app, ["status", "--json"]) == 1
    out, err = capfd.readouterr()
    assert json.loads(out)["exit_code"] == 1
    assert len(err.strip().splitlines()) == 1 and "internal error (RuntimeError)" in err
    _traceback_file(err).unlink()
