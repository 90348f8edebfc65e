"""Notifications (issue 9, item 7): off by default; when BTCBOT_NOTIFY_URL is set, one POST per run about the
events it wrote (fills, the first failed cycle of a streak and the recovery, trading-state and breaker changes,
reconcile differences), after the lock is released, never changing the run's exit code. respx with strict
defaults stands in for the endpoint (the simulator runs in process: the notifier is the only HTTP client)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from typer.testing import CliRunner

from btcbot.adapters.lock import lock_held
from btcbot.adapters.sim.server import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimServer
from btcbot.cli import app
from btcbot.services.recovery import Difference, RecoveryReport

runner = CliRunner()
HOOK = "https://hooks.example.test/services/T0KEN-5ecret"


class Endpoint:
    """The webhook: records each message and whether the state dir's lock was free when it arrived."""

    def __init__(self, router: respx.MockRouter, state: Path, reply: Any = None) -> None:
        self.state = state
        self.messages: list[dict[str, Any]] = []
        self.lock_free: list[bool] = []
        self.route = router.post(HOOK).mock(side_effect=self._receive if reply is None else reply)

    def _receive(self, request: httpx.Request) -> httpx.Response:
        self.messages.append(json.loads(request.content))
        self.lock_free.append(not lock_held(self.state))
        return httpx.Response(200)

    def lines(self) -> list[str]:
        return [line for m in self.messages for line in m["text"].splitlines()[1:]]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def notifying(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BTCBOT_NOTIFY_URL", HOOK)
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "300")
    return isolated_env


def test_off_by_default_sends_nothing(isolated_env: Path, router: respx.MockRouter,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    anything = router.route().mock(return_value=httpx.Response(200))
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "300")
    for _ in range(3):
        assert runner.invoke(app, ["run"]).exit_code == 0
    assert anything.call_count == 0


def test_fills_are_notified_once_per_run_after_the_lock_is_released(notifying: Path,
                                                                     router: respx.MockRouter) -> None:
    endpoint = Endpoint(router, notifying)
    fills = 0
    for _ in range(4):
        result = runner.invoke(app, ["run", "--json"])
        assert result.exit_code == 0
        fills += len(json.loads(result.stdout)["new_fills"])
    assert fills > 0
    fill_lines = [line for line in endpoint.lines() if line.startswith("• fill ")]
    assert len(fill_lines) == fills and all(" TRY · fee+tax " in line for line in fill_lines)
    assert endpoint.lock_free and all(endpoint.lock_free)
    message = endpoint.messages[0]
    assert message["source"] == "btcbot" and message["exchange"] == "sim" and message["venue"] == "sim"
    assert {e["kind"] for m in endpoint.messages for e in m["events"]} == {"FILL_RECORDED"}
    assert all(HOOK not in json.dumps(m) for m in endpoint.messages)


def test_failed_cycles_notify_the_first_of_a_streak_and_the_recovery(notifying: Path, router: respx.MockRouter,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTCBOT_SIM_STEP_SECONDS", "0")
    endpoint = Endpoint(router, notifying)
    assert runner.invoke(app, ["run"]).exit_code == 0

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in planning")

    with monkeypatch.context() as patch:
        patch.setattr("btcbot.services.cycle.plan_lifecycle", broken)
        assert runner.invoke(app, ["run"]).exit_code == 1
        assert runner.invoke(app, ["run"]).exit_code == 1  # the same streak: no second message
    assert runner.invoke(app, ["run"]).exit_code == 0
    assert endpoint.lines() == ["• cycle #2 failed: exit 1 (RuntimeError: a bug in planning)",
                                "• cycle #4 ok again (the previous cycle exited 1)"]


def test_exit_3_and_breaker_opening_are_notified(isolated_env: Path, sim_server: SimServer,
                                                 router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
    router.route(host="127.0.0.1").pass_through()  # the exchange (sim server) is real
    endpoint = Endpoint(router, isolated_env)
    live = {"BTCBOT_EXCHANGE": "btcturk", "BTCTURK_API_KEY": DEFAULT_API_KEY, "BTCTURK_API_SECRET": DEFAULT_API_SECRET,
            "BTCBOT_DRY_RUN": "false", "BTCBOT_KILL_SWITCH": "false", "BTCBOT_LIVE_TRADING": "true",
            "BTCBOT_LIVE_TRADING_ACK": "I_UNDERSTAND", "BTCBOT_HTTP_TIMEOUT_SECONDS": "2"}
    for name, value in {**live, "BTCBOT_NOTIFY_URL": HOOK, "BTCBOT_SYMBOLS": "BTCTRY",
                        "BTCBOT_BREAKER_FAILURES": "1", "BTCTURK_BASE_URL": sim_server.url}.items():
        monkeypatch.setenv(name, value)
    assert runner.invoke(app, ["run"]).exit_code == 0
    sim_server.stop()
    assert runner.invoke(app, ["run"]).exit_code == 3
    lines = endpoint.lines()
    assert any(line.startswith("• cycle #2 aborted: exit 3 (exchange unavailable") for line in lines), lines
    assert any(line.startswith("• circuit breaker closed → open") for line in lines), lines


def test_trading_state_change_is_notified(notifying: Path, router: respx.MockRouter) -> None:
    endpoint = Endpoint(router, notifying)

    def changes() -> list[str]:
        return [line for line in endpoint.lines() if line.startswith("• trading state ")]

    # stage 4's drawdown rule with a limit that any dip of equity below its peak breaches (the market moves)
    for _ in range(10):
        assert runner.invoke(app, ["stage4-run"], env={"BTCBOT_MAX_DRAWDOWN_PCT": "0.000001"}).exit_code == 0
        if changes():
            break
    [change] = changes()
    assert change.startswith("• trading state NORMAL → REDUCE_ONLY: RISK_MAX_DRAWDOWN: drawdown_pct="), change


def test_endpoint_trouble_never_changes_the_exit_code_and_never_logs_the_url(notifying: Path,
                                                                             router: respx.MockRouter) -> None:
    endpoint = Endpoint(router, notifying, reply=[httpx.ConnectError(f"refused by {HOOK}"), httpx.Response(500)] * 5)
    for _ in range(8):
        result = runner.invoke(app, ["run"])
        assert result.exit_code == 0 and result.stderr == ""
    calls = endpoint.route.call_count
    assert calls >= 2  # runs with fills had something to say
    log = (notifying / "logs" / "btcbot.log").read_text()
    assert log.count("notification not delivered (ConnectError)") == (calls + 1) // 2
    assert log.count("notification not delivered (HTTP 500)") == calls // 2
    assert "T0KEN" not in log and "hooks.example" not in log


def test_reconcile_differences_are_notified(notifying: Path, router: respx.MockRouter,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = Endpoint(router, notifying)
    assert runner.invoke(app, ["halt"]).exit_code == 0  # a journal to reconcile against

    def found(deps: object, apply: bool, budget: object) -> RecoveryReport:
        return RecoveryReport(differences=[Difference("EXTERNAL", "BTCTRY", "venue order 77", "-", "sell 0.1 @ 1")],
                              applied=apply)

    monkeypatch.setattr("btcbot.services.recovery.run_reconcile", found)
    assert runner.invoke(app, ["reconcile"]).exit_code == 4
    assert endpoint.lines() == ["• reconcile found 1 difference(s): 1 EXTERNAL; not applied (run btcbot reconcile "
                                "--apply)", "  EXTERNAL BTCTRY venue order 77: local - / exchange sell 0.1 @ 1"]


@pytest.mark.parametrize(("env", "names"), [
    ({"BTCBOT_NOTIFY_URL": "http://hooks.example.test/T0KEN"}, "BTCBOT_NOTIFY_URL: plain http"),
    ({"BTCBOT_NOTIFY_URL": HOOK, "BTCBOT_NOTIFY_KIND": "telegram"}, "BTCBOT_NOTIFY_TELEGRAM_CHAT_ID is required"),
    ({"BTCBOT_NOTIFY_KIND": "email"}, "BTCBOT_NOTIFY_KIND"),
])
def test_bad_notification_settings_exit_2_naming_the_setting(isolated_env: Path, env: dict[str, str],
                                                             names: str) -> None:
    result = runner.invoke(app, ["run"], env=env)
    assert result.exit_code == 2 and names in result.stderr
    assert "T0KEN" not in result.stderr


def test_notify_url_in_the_toml_file_is_refused(isolated_env: Path, tmp_path: Path) -> None:
    toml = tmp_path / "btcbot.toml"
    toml.write_text(f'notify_url = "{HOOK}"\n')
    result = runner.invoke(app, ["run", "--config", str(toml)])
    assert result.exit_code == 2 and "BTCBOT_NOTIFY_URL in the environment or .env" in result.stderr
    assert "T0KEN" not in result.stderr
