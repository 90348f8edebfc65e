"""Broken state never gives a traceback (issue 8, findings 3 and 4): a damaged journal, a state dir that is a
file or is not writable, a mistyped --state-dir. Exit 2 with one line naming the path and what to do;
`doctor` reports a failed integrity check (exit 4); a damaged journal is never modified; read-only commands
create nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from btcbot.adapters.sqlite.store import DB_FILENAME
from btcbot.cli import app

runner = CliRunner()
WRITERS = [["run"], ["reconcile"], ["halt"], ["resume"], ["run", "--json"]]
READERS = [["status"], ["status", "--json"]]
DOCTORS = [["doctor"], ["doctor", "--json"]]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _truncate(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def _garbage(db: Path) -> None:
    db.write_bytes(b"this is not a database\n" * 300)


def _zero_header(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[:100] = bytes(100)
    db.write_bytes(bytes(data))


def _damage_pages(db: Path) -> None:
    """Header and size intact, b-tree pages in the middle overwritten (only a page scan can tell)."""
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for number in range(2, len(data) // page - 1):
        start = number * page
        data[start:start + 64] = b"\xa5" * 64
    db.write_bytes(bytes(data))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate, "garbage": _garbage, "zeroed-header": _zero_header, "damaged-pages": _damage_pages,
}


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def journal(isolated_env: Path) -> Path:
    assert runner.invoke(app, ["run"]).exit_code == 0
    db = isolated_env / DB_FILENAME
    assert not Path(f"{db}-wal").exists()  # closed cleanly: the whole journal is in the file
    return db


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_journal_every_command_exits_2_names_it_and_leaves_it_untouched(journal: Path, damage: str) -> None:
    DAMAGE[damage](journal)
    before = _digest(journal)
    for args in WRITERS + READERS:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        line = _one_line(result.stderr)
        assert str(journal) in line and ("damaged" in line or "restore" in line), line
        if "--json" in args:
            assert json.loads(result.stdout)["exit_code"] == 2
        assert _digest(journal) == before, args
    for args in DOCTORS:
        result = runner.invoke(app, args)
        assert result.exit_code == 4, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
        if "--json" in args:
            checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
            assert not checks["database"]["ok"] and str(journal) in checks["database"]["detail"]
        assert _digest(journal) == before, args


def test_damaged_journal_in_real_process_exits_2_with_one_stderr_line(journal: Path) -> None:
    _damage_pages(journal)
    before = _digest(journal)
    result = subprocess.run([sys.executable, "-m", "btcbot", "run"], env=dict(os.environ), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert str(journal) in _one_line(result.stderr)
    assert _digest(journal) == before


def test_state_dir_is_a_file_every_command_exits_2_naming_it(isolated_env: Path) -> None:
    isolated_env.write_text("not a directory\n")
    for args in WRITERS + READERS + DOCTORS:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        if args[0] != "doctor":
            assert str(isolated_env) in _one_line(result.stderr)
        else:
            assert str(isolated_env) in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert isolated_env.read_text() == "not a directory\n"


@pytest.mark.parametrize("args", READERS + DOCTORS)
def test_read_only_command_on_missing_state_dir_exits_2_and_creates_nothing(tmp_path: Path, args: list[str]) -> None:
    mistyped = tmp_path / "stat"
    result = runner.invoke(app, [*args, "--state-dir", str(mistyped)])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert f"no state at {mistyped}" in result.stdout + result.stderr
    assert not mistyped.exists()


@pytest.mark.parametrize("args", READERS + DOCTORS)
def test_read_only_command_on_empty_state_dir_exits_2_and_creates_nothing(isolated_env: Path, args: list[str]) -> None:
    isolated_env.mkdir()
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert f"no state at {isolated_env}" in result.stdout + result.stderr
    assert list(isolated_env.iterdir()) == []


def test_read_only_commands_on_existing_state_create_no_lock_or_logs(journal: Path) -> None:
    state = journal.parent
    shutil.rmtree(state / "logs")
    (state / "btcbot.lock").unlink()
    for args in READERS + DOCTORS:
        assert runner.invoke(app, args).exit_code == 0, args
    # metrics.prom was written by the run that made the journal (read-only commands write none)
    assert sorted(p.name for p in state.iterdir() if not p.name.startswith(DB_FILENAME)) == ["metrics.prom",
                                                                                           "sim.sqlite"]


def test_read_only_commands_with_relative_state_dir_read_the_journal_unchanged(
        journal: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # found at merge: the read-only open built a file URI from a relative path (ValueError, exit 1)
    monkeypatch.chdir(journal.parent.parent)
    monkeypatch.delenv("BTCBOT_STATE_DIR")
    before = _digest(journal)
    for args in READERS + DOCTORS:
        result = runner.invoke(app, [*args, "--state-dir", journal.parent.name])
        assert result.exit_code == 0, (args, result.output)
    assert _digest(journal) == before


def test_read_only_command_never_migrates_an_old_journal(journal: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(journal)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    before = _digest(journal)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 2 and "older than this btcbot" in _one_line(result.stderr)
    assert _digest(journal) == before


def _without_dac_override() -> list[str]:
    """Root ignores permission bits; drop that capability so an unwritable dir is unwritable."""
    if os.geteuid() != 0:
        return []
    caps = "-dac_override,-dac_read_search,-fowner"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]


def test_unwritable_state_dir_exits_2_naming_it_and_status_still_reads(journal: Path) -> None:
    state = journal.parent
    state.chmod(0o500)
    try:
        for args, code in ((["run"], 2), (["halt"], 2), (["status", "--json"], 0)):
            result = subprocess.run([*_without_dac_override(), sys.executable, "-m", "btcbot", *args],
                                    env=dict(os.environ), capture_output=True, text=True, timeout=120)
            assert result.returncode == code, (args, result.stdout, result.stderr)
            if code:
                line = _one_line(result.stderr)
                assert str(state) in line and ("not writable" in line or "permission" in line.lower()), line
    finally:
        state.chmod(0o700)


def test_lock_file_that_cannot_be_opened_exits_2_naming_it(isolated_env: Path) -> None:
    (isolated_env / "btcbot.lock").mkdir(parents=True)
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert str(isolated_env / "btcbot.lock") in _one_line(result.stderr)
