"""Secrets never leak (issue 8 item 17, R-SAFE-4): every command runs with known fake keys -- successful runs,
exit 2, exit 3, a refused signature and a forced exit 1 -- and stdout, stderr, every `--json` output, the logs,
the databases (with their WAL) and every other file btcbot wrote (metrics.prom too) are scanned for the key and
the secret in every form they could take (as given, base64-decoded, hex). The notification URL is a secret too
(issue 9): its token is in the path of a local webhook that answers some posts with 500, and it is scanned for
like the keys, the webhook's own received bodies included."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rig import SYMBOLS, runner

from btcbot.adapters.sim.server import SimServer, open_server_sim
from btcbot.cli import app

KEY = "fake-pck-9c1e77a04b"
SECRET_BYTES = b"fake-secret-5f3a1d-do-not-leak"
SECRET = base64.b64encode(SECRET_BYTES).decode()
NOTIFY_TOKEN = "fake-notify-tok-7d1c9e42"


def _forms() -> dict[str, bytes]:
    forms = {"notify-token": NOTIFY_TOKEN.encode(), "notify-token-hex": NOTIFY_TOKEN.encode().hex().encode(),
             "key": KEY.encode(), "key-hex": KEY.encode().hex().encode(),
             "key-b64": base64.b64encode(KEY.encode()), "secret": SECRET.encode(),
             "secret-bytes": SECRET_BYTES, "secret-hex": SECRET_BYTES.hex().encode(),
             "secret-b64-hex": SECRET.encode().hex().encode()}
    forms.update({f"{name}-utf16": value.decode("latin-1").encode("utf-16-le") for name, value in list(forms.items())})
    return forms


FORMS = _forms()


class Scanner:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    def add(self, where: str, data: str | bytes) -> None:
        self.seen.append((where, data.encode() if isinstance(data, str) else data))

    def add_tree(self, root: Path) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.add(str(path), path.read_bytes())

    def leaks(self) -> list[str]:
        return [f"{name} in {where}" for where, data in self.seen for name, form in FORMS.items() if form in data]


class Webhook:
    """A local webhook whose path holds the token; every second post is refused with a 500."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.bodies.append(body)
                self.send_response(500 if len(outer.bodies) % 2 == 0 else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/{NOTIFY_TOKEN}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.stop()


def _env(url: str, state: Path, **extra: str) -> dict[str, str]:
    return {"BTCBOT_EXCHANGE": "btcturk", "BTCTURK_BASE_URL": url, "BTCTURK_API_KEY": KEY,
            "BTCTURK_API_SECRET": SECRET, "BTCBOT_DRY_RUN": "false", "BTCBOT_KILL_SWITCH": "false",
            "BTCBOT_LIVE_TRADING": "true", "BTCBOT_LIVE_TRADING_ACK": "I_UNDERSTAND", "BTCBOT_STATE_DIR": str(state),
            "BTCBOT_SYMBOLS": ",".join(SYMBOLS), "BTCBOT_HTTP_TIMEOUT_SECONDS": "3", **extra}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SimServer]:
    sim = open_server_sim(tmp_path / "server", seed=5, tick_seconds=1, cancel_delay=0.2)
    srv = SimServer(sim, api_key=KEY, api_secret=SECRET).start()
    yield srv
    srv.stop()
    sim.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_every_command_with_fake_keys_never_shows_or_stores_them(server: SimServer, webhook: Webhook,
                                                                   tmp_path: Path) -> None:
    state, scan = tmp_path / "bot", Scanner()
    env = _env(server.url, state, BTCBOT_NOTIFY_URL=webhook.url)

    def cli(*args: str, code: int | None = 0, **extra: str) -> None:
        result = runner.invoke(app, list(args), env={**env, **extra})
        assert code is None or result.exit_code == code, (args, result.stdout, result.stderr)
        scan.add(f"{args} stdout", result.stdout)
        scan.add(f"{args} stderr", result.stderr)

    for fmt in ("text", "json"):  # both log formats
        cli("run", BTCBOT_LOG_FORMAT=fmt)
        cli("run", "--json", BTCBOT_LOG_FORMAT=fmt)
    for args in (["status"], ["status", "--json", "--fills", "50"], ["reconcile", "--json"], ["reconcile"],
                 ["reconcile", "--apply", "--json"], ["doctor"], ["doctor", "--json"]):
        cli(*args, code=None)
    cli("halt", "--reason", "secrets test")
    cli("resume")
    # failing runs: exit 2 (bad setting; keys in the TOML file), 3 (unreachable; refused signature), 1 (a bug)
    cli("run", "--json", code=2, BTCBOT_SYMBOLS="NOT-A-PAIR")
    toml = tmp_path / "btcbot.toml"
    toml.write_text(f'api_secret = "{SECRET}"\napi_key = "{KEY}"\n')
    cli("run", "--json", "--config", str(toml), code=2)
    cli("run", "--json", code=3, BTCTURK_BASE_URL=f"http://127.0.0.1:{_closed_port()}")
    cli("doctor", "--json", code=4, BTCTURK_API_SECRET=base64.b64encode(b"another-secret").decode())
    cli("run", "--json", code=3, BTCTURK_API_KEY="fake-pck-wrong-key-0000")
    crash = subprocess.run([sys.executable, "-m", "btcbot", "run", "--json"], capture_output=True, text=True,
                           env={**os.environ, **env, "BTCBOT_TEST_CRASH_AT": "tx:Store.finish_cycle:before",
                                "BTCBOT_TEST_CRASH_MODE": "raise"}, timeout=120)
    assert crash.returncode == 1, crash.stderr
    scan.add("exit-1 stdout", crash.stdout)
    scan.add("exit-1 stderr", crash.stderr)
    # the simulator server's own command: given the same pair on its command line, it must not echo it
    serve = subprocess.Popen([sys.executable, "-m", "btcbot", "sim", "serve", "--port", "0", "--api-key", KEY,
                              "--api-secret", SECRET, "--state-dir", str(tmp_path / "served")],
                             env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert serve.stdout is not None and b"listening on" in serve.stdout.readline()
    serve.send_signal(signal.SIGTERM)
    out, err = serve.communicate(timeout=30)
    scan.add("sim serve stdout", out)
    scan.add("sim serve stderr", err)
    killed = subprocess.run([sys.executable, "-m", "btcbot", "run"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env, "BTCBOT_TEST_CRASH_AT": "tx:Store.finish_cycle:before"})
    assert killed.returncode == -signal.SIGKILL  # no clean close: the cycle's commits are still in the WAL
    assert (state / "btcbot.sqlite-wal").stat().st_size > 0
    scan.add_tree(state)
    scan.add_tree(tmp_path / "served")
    assert (state / "btcbot.sqlite").exists() and (state / "logs" / "btcbot.log").exists()
    assert "Traceback" in (state / "logs" / "btcbot.log").read_text()  # the forced bug's traceback was kept
    assert sum(where.endswith("stdout") for where, _ in scan.seen) >= 20
    assert (state / "metrics.prom").exists()
    kinds = {e["kind"] for body in webhook.bodies for e in json.loads(body)["events"]}
    assert len(webhook.bodies) >= 2 and "CYCLE_FINISHED" in kinds, kinds  # notifications went out, one refused
    assert "notification not delivered (HTTP 500)" in (state / "logs" / "btcbot.log").read_text()
    for i, body in enumerate(webhook.bodies):
        scan.add(f"webhook body {i}", body)
    assert scan.leaks() == []


def test_scanner_finds_each_form_of_the_secret() -> None:
    scan = Scanner()
    for name, form in FORMS.items():
        scan.add(name, b"prefix " + form + b" suffix")
    assert len(scan.leaks()) >= len(FORMS)
