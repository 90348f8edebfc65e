"""Deployment files work as pasted (issue 9, items 5 and 8): the cron wrapper from a fresh clone with no state/,
the systemd units, the compose file and the README's alert rules."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from btcbot.adapters.lock import instance_lock
from btcbot.services.metrics import METRICS_FILENAME

ROOT = Path(__file__).resolve().parents[2]
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")
BTCBOT = str(Path(sys.executable).parent / "btcbot")  # the installed one: the clone has no virtualenv


def _clone(tmp_path: Path) -> Path:
    """A fresh clone of this repository (its committed files), with the wrapper as in the working tree, and no
    state/ at all."""
    clone = tmp_path / "btcbot"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True,
                   capture_output=True, timeout=120)
    shutil.copy2(ROOT / "scripts" / "btcbot-cron.sh", clone / "scripts" / "btcbot-cron.sh")
    shutil.rmtree(clone / "state", ignore_errors=True)
    return clone


def _cron(clone: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BTCBOT_", "BTCTURK_"))}
    return subprocess.run([str(clone / "scripts" / "btcbot-cron.sh"), *args], capture_output=True, text=True,
                          timeout=180, cwd="/", env={**environment, "BTCBOT": BTCBOT, **env})


def test_cron_wrapper_from_a_fresh_clone_creates_its_log_and_stamps_every_line(tmp_path: Path) -> None:
    clone = _clone(tmp_path)
    assert not (clone / "state").exists()
    first = _cron(clone)
    assert (first.returncode, first.stdout, first.stderr) == (0, "", "")
    state, log = clone / "state", clone / "state" / "logs" / "cron.log"
    assert stat.S_IMODE(state.stat().st_mode) == stat.S_IMODE((state / "logs").stat().st_mode) == 0o700
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    lines = log.read_text().splitlines()
    assert lines[0].endswith("Z btcbot run")
    assert all(STAMP.match(line) for line in lines), lines
    assert any("btcbot cycle 1 · stage 3 · dry-run on sim" in line for line in lines)
    assert (state / METRICS_FILENAME).exists()
    # the previous cycle still holds the lock: exit 75 is logged and is not an error
    with instance_lock(state):
        busy = _cron(clone, "stage7-run")
    assert (busy.returncode, busy.stderr) == (0, "")
    assert log.read_text().splitlines()[-1].endswith("previous run still active: skipped (exit 75)")


def test_cron_wrapper_rotates_its_log_and_publishes_metrics(tmp_path: Path) -> None:
    clone = _clone(tmp_path)
    published = tmp_path / "textfile" / "btcbot.prom"
    published.parent.mkdir()
    for _ in range(2):
        result = _cron(clone, "--symbols", "BTCTRY", BTCBOT_CRON_LOG_MAX_BYTES="100",
                       BTCBOT_CRON_METRICS_COPY=str(published))
        assert result.returncode == 0, result.stderr
    logs = clone / "state" / "logs"
    assert (logs / "cron.log").exists() and (logs / "cron.log.1").exists()
    assert "btcbot cycle 1 " in (logs / "cron.log.1").read_text()
    assert "btcbot cycle 2 " in (logs / "cron.log").read_text()
    assert stat.S_IMODE(published.stat().st_mode) == 0o644
    assert published.read_text() == (clone / "state" / METRICS_FILENAME).read_text()


def test_cron_wrapper_reports_a_failing_exit_on_stderr_for_cron_mail(tmp_path: Path) -> None:
    clone = _clone(tmp_path)
    result = _cron(clone, BTCBOT_SYMBOLS="NOT-A-PAIR")
    assert result.returncode == 2
    assert result.stderr.strip() == f"btcbot run: exit 2, see {clone}/state/logs/cron.log"
    assert "BTCBOT_SYMBOLS" in (clone / "state" / "logs" / "cron.log").read_text()


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "scripts" / name)
    return parser


def test_systemd_service_runs_one_cycle_as_its_user_with_a_private_state_dir() -> None:
    service = _unit("btcbot.service")["Service"]
    assert service["Type"] == "oneshot" and service["User"] == "btcbot"
    assert service["ExecStart"].endswith("/.venv/bin/btcbot run")
    assert service["Environment"] == "BTCBOT_STATE_DIR=/var/lib/btcbot"
    assert (service["StateDirectory"], service["StateDirectoryMode"]) == ("btcbot", "0700")
    assert service["SuccessExitStatus"] == "75" and service["UMask"] == "0077"
    timer = _unit("btcbot.timer")
    assert timer["Timer"]["OnCalendar"] == "*-*-* *:*:00" and timer["Timer"]["Unit"] == "btcbot.service"
    assert timer["Install"]["WantedBy"] == "timers.target"
    readme = (ROOT / "README.md").read_text()
    assert "sudo systemctl daemon-reload && sudo systemctl enable --now btcbot.timer" in readme


def test_compose_runs_the_cycle_in_a_loop_with_keys_from_an_env_file() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["btcbot"]
    assert service["env_file"] == ["btcbot.env"] and "environment" not in service
    assert service["volumes"] == ["btcbot-state:/data/state"] and "btcbot-state" in compose["volumes"]
    assert "user" not in service and "privileged" not in service  # the image's non-root user
    loop = service["command"][0]
    assert "while :; do" in loop and "btcbot run" in loop and "cron" not in loop
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER btcbot" in dockerfile and 'VOLUME ["/data/state"]' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "btcbot.env", "config/btcbot.toml"} <= set(ignored)
    assert "btcbot.env" in (ROOT / ".gitignore").read_text().split()


def test_readme_alert_rules_parse_and_use_the_metrics_names() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"Two alert rules.*?```yaml\n(.*?)```", readme, re.S)
    assert block is not None
    rules = {r["alert"]: r for r in yaml.safe_load(block.group(1))["groups"][0]["rules"]}
    assert rules["BtcbotNoSuccessfulCycle"]["expr"] == "time() - btcbot_last_cycle_ok_timestamp_seconds > 3 * 60"
    assert rules["BtcbotUnresolvedOrders"]["expr"] == "btcbot_unresolved_orders > 0"
    assert rules["BtcbotUnresolvedOrders"]["for"] == "15m"
    assert "* * * * * /opt/btcbot/scripts/btcbot-cron.sh\n" in readme  # no redirect into a missing directory
