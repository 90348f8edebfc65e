"""`btcbot sim serve`: the simulator served as a BTCTurk-shaped HTTP server (stdlib `http.server`).

Python API (tests start it in-process on a free port):

    sim = open_server_sim(state_dir, seed=42)              # or SimExchange.open(None, SimConfig(...), clock)
    with SimServer(sim, FaultPlan.parse("429=0.05,seed=7"), "sim-key", "c2ltLXNlY3JldA==") as server:
        BtcTurkExchange(BtcTurkClient(base_url=server.url, api_key=SecretStr("sim-key"), api_secret=SecretStr(...)))

Per request: log → rate limits (§9, counted on arrival) → injected latency → 429 (refusal or injected,
with `Retry-After`; the endpoint then stays blocked) → injected 5xx / HTML 502 → authentication of
/api/v1 (§2: X-PCK, X-Stamp within ±5 s, X-Signature; failures are 401 with BTCTurk's messages, code
1037) → the endpoint (endpoints.py) → "after" faults on a 2xx reply (timeout / dropped reply / a rewritten body:
truncated, nested too deep, open orders without client ids, a zero-price book).

Control endpoints (unauthenticated, never faulted, rate limited or logged; bind to localhost only):

    GET  /__sim/faults          {"spec", "seed", "late_fills", "rules", "blocks"} (blocks: endpoint → seconds left)
    POST /__sim/faults          body {"spec": "SPEC"}: replace the plan (random streams restart from its seed)
    POST /__sim/reset-faults    no faults; also clears 429 blocks and rate-limit windows
    GET  /__sim/requests        {"requests": [...], "next": SEQ}; `?since=SEQ` returns entries with seq >= SEQ
    POST /__sim/reset-requests  clear the request log
    POST /__sim/advance         body {"ticks": N}: move the market N ticks now (0 <= N <= the sim's
                                max_ticks_per_advance, 1440; anything else is a 400)
    POST /__sim/price           body {"symbol": "BTCTRY", "mid": "3600000"}: move the pair's mid there now (the
                                book is rebuilt around it, crossed resting orders fill, later ticks walk on
                                from it); replies {"symbol", "mid", "best_bid"}. Steers prices in tests.

Request log entry: seq, time (ISO), ts_ms (arrival), method, path, endpoint (limiter key), client_order_id
(POST /order body, either spelling), order_id, status (None while in flight), replied (False when the
connection was closed without a reply), fault (the SPEC kind that acted: "429", "500"/"503" for 5xx, "html502",
"timeout_after_accept", "drop_cancel_reply", "malformed", "nested_json", "anon_open_orders", "zero_price_book";
None), blocked (arrived while its endpoint was
blocked, after a 429 reply announcing that block had been sent: a client that ignored a block it could know
of; a request already in flight when the block began, e.g. a concurrent read, gets its 429 but is not
`blocked`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from btcbot.adapters.sim import wire
from btcbot.adapters.sim.config import SimConfig
from btcbot.adapters.sim.endpoints import Endpoints, Request, Route, client_id_of, match, order_fields
from btcbot.adapters.sim.exchange import SimExchange
from btcbot.adapters.sim.faults import BODY_FAULTS, PUBLISHED_LIMITS, FaultInjector, FaultPlan, Limit, ServerLimiter
from btcbot.domain.errors import ConfigError, ExchangeError, StateError
from btcbot.domain.money import to_decimal

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "SIM_SERVER_DB",
    "SimServer",
    "WallClock",
    "is_loopback",
    "open_server_sim",
]

log = logging.getLogger(__name__)

DEFAULT_API_KEY = "sim-key"
DEFAULT_API_SECRET = "c2ltLXNlY3JldA=="  # base64 of "sim-secret"
SIM_SERVER_DB = "sim-server.sqlite"
_JSON = "application/json; charset=utf-8"
_AUTH_CODE = 1037


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine (127.0.0.0/8, ::1, "localhost")."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a name or a wildcard: may be reachable from elsewhere


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def open_server_sim(
    state_dir: Path, *, seed: int = 42, tick_seconds: int = 60, cancel_delay: float = 1.0
) -> SimExchange:
    """The server's own simulator, persisted in `<state_dir>/sim-server.sqlite`, advancing with wall time."""
    config = SimConfig(seed=seed, tick_seconds=tick_seconds, cancel_delay_seconds=cancel_delay, auto_advance=True)
    sim = SimExchange.open(state_dir / SIM_SERVER_DB, config, WallClock())
    sim.record_history()  # GET /v1/klines/history answers from the ticks since the server started
    return sim


@dataclass(frozen=True, slots=True)
class _Out:
    status: int
    body: bytes = b""
    content_type: str = _JSON
    headers: tuple[tuple[str, str], ...] = ()


def _json_out(status: int, body: wire.Json, headers: tuple[tuple[str, str], ...] = ()) -> _Out:
    return _Out(status, wire.dumps(body), _JSON, headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "btcbot-sim"
    sys_version = ""
    wbufsize = 64 * 1024  # one write per reply (with Nagle, split writes cost 40 ms per request)
    disable_nagle_algorithm = True

    def _dispatch(self) -> None:
        cast(_HTTPServer, self.server).app.serve(self)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def send(self, out: _Out) -> None:
        self.send_response(out.status)
        if out.body:
            self.send_header("Content-Type", out.content_type)
        self.send_header("Content-Length", str(len(out.body)))
        for name, value in out.headers:
            self.send_header(name, value)
        self.end_headers()
        if out.body:
            self.wfile.write(out.body)

    def drop(self) -> None:
        """Close the connection without a reply."""
        self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: SimServer) -> None:
        super().__init__(address, _Handler)
        self.app = app

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sim server: error while handling a request from %s", client_address, exc_info=True)


class SimServer:
    """A BTCTurk-shaped HTTP server over `sim`; `start()` serves from a background thread."""

    def __init__(
        self,
        sim: SimExchange,
        faults: FaultPlan | None = None,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Mapping[str, tuple[Limit, ...]] = PUBLISHED_LIMITS,
        stamp_window: float = 5.0,
        log_size: int = 100_000,
    ) -> None:
        try:
            self._key_bytes = base64.b64decode(api_secret.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("--api-secret: not valid base64") from None
        self.sim = sim
        self.faults = FaultInjector(faults)
        self.limiter = ServerLimiter(limits)
        self._api_key = api_key.strip()
        self._window_ms = int(stamp_window * 1000)
        self._address = (host, port)
        self._endpoints = Endpoints(sim, WallClock().now, lambda: self.faults.plan.late_fills)
        self._log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self._seq = 0
        self._log_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------------------------- lifecycle

    def start(self) -> SimServer:
        if self._httpd is not None:
            raise RuntimeError("the sim server is already running")
        self._httpd = _HTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-server", daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the sim server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}"

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimServer:
        return self.start() if self._httpd is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def set_faults(self, plan: FaultPlan) -> None:
        self.faults.set_plan(plan)

    # -------------------------------------------------------------------------------- request log

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """Copies of the logged requests with seq >= `since`, in arrival order."""
        with self._log_lock:
            return [dict(entry) for entry in self._log if entry["seq"] >= since]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _new_entry(self, method: str, path: str, client_id: str | None) -> dict[str, Any]:
        now = datetime.now(UTC)
        with self._log_lock:
            self._seq += 1
            entry: dict[str, Any] = {
                "seq": self._seq, "time": now.isoformat(timespec="milliseconds"), "ts_ms": wire.ms(now),
                "method": method, "path": path, "endpoint": None, "client_order_id": client_id, "order_id": None,
                "status": None, "replied": True, "fault": None, "blocked": False,
            }  # fmt: skip
            self._log.append(entry)
            return entry

    def _update(self, entry: dict[str, Any], **values: Any) -> None:
        with self._log_lock:
            entry.update(values)

    # ----------------------------------------------------------------------------------- serving

    def serve(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        path = unquote(split.path).rstrip("/").lower() or "/"
        method = handler.command.upper()
        try:
            body = handler.read_body()
            if path.startswith("/__sim"):
                handler.send(self._control(method, path, split.query, body))
                return
            client_id = client_id_of(order_fields(body)) if method == "POST" and body else None
            entry = self._new_entry(method, split.path, client_id)
            out, after, hold = self._process(handler, method, path, split.query, body, entry)
            if after in ("hang", "drop"):
                self._update(entry, status=out.status, replied=False)
                if after == "hang":
                    time.sleep(hold)
                handler.drop()
                return
            self._update(entry, status=out.status)
            handler.send(out)
            if out.status == 429 and entry["endpoint"]:
                self.limiter.announce(entry["endpoint"])  # sent: the client can know of the block from now on
        except OSError:  # the client went away
            handler.drop()

    def _process(
        self, handler: _Handler, method: str, path: str, raw_query: str, body: bytes, entry: dict[str, Any]
    ) -> tuple[_Out, str | None, float]:
        found = match(method, path)
        if isinstance(found, int):
            return _Out(found), None, 0.0
        route, params = found
        self._update(entry, endpoint=route.key)
        refusal = self.limiter.admit(route.key)
        decision = self.faults.decide(method, path, route.key)
        if decision.latency > 0:
            time.sleep(decision.latency)
        if refusal is not None:
            self._update(entry, blocked=refusal.blocked)
            return self._too_many(route.key, refusal.retry_after, refusal.limit), None, 0.0
        if decision.reply is not None:
            self._update(entry, fault=decision.reply)
            log.info("sim server: injecting %s on %s %s", decision.reply, method, path)
            return self._injected(route.key, decision.reply, decision.retry_after), None, 0.0
        if route.private and (problem := self._authenticate(handler.headers)):
            return _json_out(401, {"success": False, "message": problem, "code": _AUTH_CODE}), None, 0.0
        out = self._call(route, method, path, raw_query, body, params, handler.headers, entry)
        if not 200 <= out.status < 300 or decision.after is None:
            return out, None, 0.0
        self._update(entry, fault=decision.after_kind)
        log.info("sim server: %s after processing %s %s", decision.after, method, path)
        if decision.after in BODY_FAULTS:
            return _Out(out.status, wire.garble(decision.after, out.body), _JSON), None, 0.0
        return out, decision.after, decision.hold

    def _call(
        self,
        route: Route,
        method: str,
        path: str,
        raw_query: str,
        body: bytes,
        params: dict[str, str],
        headers: Message,
        entry: dict[str, Any],
    ) -> _Out:
        query: dict[str, list[str]] = {}
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            query.setdefault(name.lower(), []).append(value)
        request = Request(method, path, query, body, headers.get("Content-Type") or "", params)
        try:
            reply = self._endpoints.handle(route, request)
        except StateError:
            return _json_out(503, {"success": False, "message": "SERVICE_UNAVAILABLE", "code": 503})
        except Exception:
            log.exception("sim server: %s %s failed", method, path)
            return _json_out(500, {"success": False, "message": "INTERNAL_SERVER_ERROR", "code": 500})
        if reply.order_id is not None:
            self._update(entry, order_id=reply.order_id)
        return _Out(reply.status) if reply.body is None else _json_out(reply.status, reply.body)

    def _too_many(self, endpoint: str, retry_after: int, limit: Limit | None) -> _Out:
        if limit is None:  # an injected block: describe it as the account policy of the endpoint
            published = self.limiter.limits(endpoint)
            limit = Limit(published[0].limit, published[0].period, "account") if published else None
        body = wire.too_many_requests(
            retry_after, limit.limit if limit else None, limit.period_text if limit else None,
            limit.policy if limit else "ip",
        )  # fmt: skip
        return _json_out(429, body, (("Retry-After", str(retry_after)),))

    def _injected(self, endpoint: str, kind: str, retry_after: int) -> _Out:
        if kind == "429":
            self.limiter.block(endpoint, retry_after)
            return self._too_many(endpoint, retry_after, None)
        if kind == "html502":
            return _Out(502, wire.HTML_502, "text/html")
        status = int(kind)
        message = "SERVICE_UNAVAILABLE" if status == 503 else "INTERNAL_SERVER_ERROR"
        return _json_out(status, {"success": False, "message": message, "code": status})

    def _authenticate(self, headers: Message) -> str | None:
        """None when the request is signed correctly, else the 401 message (§2)."""
        key, stamp, signature = (headers.get(n, "").strip() for n in ("X-PCK", "X-Stamp", "X-Signature"))
        if not (key and stamp and signature):
            return "Unauthorized - Headers are missing"
        if not hmac.compare_digest(key.encode(), self._api_key.encode()):
            return "Unauthorized - Invalid Public key"
        if not stamp.isdigit() or abs(time.time_ns() // 1_000_000 - int(stamp)) > self._window_ms:
            return "Unauthorized - Invalid Nonce"
        digest = hmac.new(self._key_bytes, (self._api_key + stamp).encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest), signature.encode()):
            return "Unauthorized - Invalid Signature"
        return None

    # ----------------------------------------------------------------------------------- control

    def _control(self, method: str, path: str, raw_query: str, body: bytes) -> _Out:
        try:
            status, data = self._control_reply(method, path, dict(parse_qsl(raw_query)), body)
        except ValueError as exc:
            status, data = 400, {"error": str(exc)}
        return _Out(status, json.dumps(data).encode(), _JSON)

    def _control_reply(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        route = (method, path)
        if route == ("GET", "/__sim/faults"):
            return 200, self._faults_json()
        if route == ("POST", "/__sim/faults"):
            spec = _json_object(body).get("spec", "")
            if not isinstance(spec, str):
                raise ValueError('body must be {"spec": "..."}')
            self.faults.set_plan(FaultPlan.parse(spec))
            return 200, self._faults_json()
        if route == ("POST", "/__sim/reset-faults"):
            self.faults.set_plan(FaultPlan())
            self.limiter.reset()
            return 200, self._faults_json()
        if route == ("GET", "/__sim/requests"):
            entries = self.requests(int(query.get("since", "0") or 0))
            with self._log_lock:
                next_seq = self._seq + 1
            return 200, {"requests": entries, "next": next_seq}
        if route == ("POST", "/__sim/reset-requests"):
            self.clear_requests()
            return 200, {"ok": True}
        if route == ("POST", "/__sim/advance"):
            ticks, most = _json_object(body).get("ticks", 1), self.sim.config.max_ticks_per_advance
            if not isinstance(ticks, int) or isinstance(ticks, bool) or not 0 <= ticks <= most:
                raise ValueError(f'body must be {{"ticks": N}} with 0 <= N <= {most} (ticks={ticks!r})')
            self.sim.advance(datetime.now(UTC), ticks)
            return 200, {"tick": self.sim.tick}
        if route == ("POST", "/__sim/price"):
            return 200, self._set_price(_json_object(body))
        return 404, {"error": f"unknown control endpoint {method} {path}"}

    def _set_price(self, body: dict[str, Any]) -> dict[str, Any]:
        symbol, mid = body.get("symbol"), body.get("mid")
        if not isinstance(symbol, str) or not isinstance(mid, str | int) or isinstance(mid, bool):
            raise ValueError('body must be {"symbol": "BTCTRY", "mid": "DECIMAL STRING"}')
        price = to_decimal(mid, field="mid")
        if not price > 0:
            raise ValueError(f"mid must be a positive price (mid={mid!r})")
        try:
            bid = self.sim.set_mid(symbol, price)
        except ExchangeError as exc:
            raise ValueError(f"unknown pair {symbol!r}") from exc
        return {"symbol": symbol.upper(), "mid": str(mid), "best_bid": str(bid)}

    def _faults_json(self) -> dict[str, Any]:
        data = self.faults.plan.to_json()
        data["blocks"] = {key: str(seconds) for key, seconds in self.limiter.blocks().items()}
        return data


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("body must be a JSON object")
    return document
