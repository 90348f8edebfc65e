"""`btcbot sim serve`: the simulated exchange as a BTCTurk-shaped HTTP server (R-EX-7)."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Annotated

import typer

from btcbot.cli.common import ConfigOpt, StateDirOpt, guarded, settings_from

__all__ = ["register", "sim_app"]

sim_app = typer.Typer(name="sim", help="The simulated exchange.", no_args_is_help=True)

_FAULTS_HELP = 'Fault SPEC (grammar above); change it at runtime with POST /__sim/faults {"spec": SPEC}.'

HostOpt = Annotated[str, typer.Option(
    "--host", help="Interface to bind. A non-loopback address needs --allow-remote (control endpoints are open).")]
RemoteOpt = Annotated[bool, typer.Option(
    "--allow-remote", help="Allow --host to be a non-loopback address: anyone who can reach it can change faults.")]
PortOpt = Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port; 0 picks a free one.")]
FaultsOpt = Annotated[str, typer.Option("--faults", help=_FAULTS_HELP)]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Market seed of a new state (default BTCBOT_SIM_SEED).")]
TickOpt = Annotated[int, typer.Option("--tick-seconds", min=1, help="Wall-clock seconds per market tick.")]
CancelOpt = Annotated[float, typer.Option("--cancel-delay", min=0.0, help="Seconds until a cancel takes effect.")]
KeyOpt = Annotated[str, typer.Option("--api-key", help="Expected X-PCK.")]
SecretOpt = Annotated[str, typer.Option("--api-secret", help="Base64 API secret used to verify X-Signature.")]
LimitsOpt = Annotated[
    bool, typer.Option("--rate-limits/--no-rate-limits", help="Enforce BTCTurk's published rate limits (429).")
]


@guarded
def serve(
    config: ConfigOpt = None,
    state_dir: StateDirOpt = None,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8080,
    faults: FaultsOpt = "",
    seed: SeedOpt = None,
    tick_seconds: TickOpt = 60,
    cancel_delay: CancelOpt = 1.0,
    api_key: KeyOpt = "sim-key",
    api_secret: SecretOpt = "c2ltLXNlY3JldA==",
    rate_limits: LimitsOpt = True,
    allow_remote: RemoteOpt = False,
) -> None:
    r"""Serve the simulator over HTTP with BTCTurk's paths, shapes, signing, rate limits and injected faults.

    State persists in <state-dir>/sim-server.sqlite (a restart keeps orders and balances). Prints
    "btcbot sim serve listening on http://HOST:PORT" once, then serves until SIGTERM/SIGINT.
    Control (no auth, so a non-loopback --host needs --allow-remote): GET/POST /__sim/faults,
    POST /__sim/reset-faults, GET /__sim/requests, POST /__sim/reset-requests,
    POST /__sim/advance {"ticks": N} (0 <= N <= 1440),
    POST /__sim/price {"symbol": S, "mid": "M"}.

    Fault SPEC: comma-separated KIND\[@SCOPE]=VALUE; SCOPE is METHOD, /path-prefix or 'METHOD /path-prefix';
    DUR is 50ms, 2s or seconds; P is a probability 0..1 drawn per matching request (seeded per endpoint).
    latency=DUR\[~JITTER] - delay replies by DUR + uniform(0, JITTER)
    429=P\[:RETRY_AFTER] - 429 with Retry-After (default 2s); the endpoint stays blocked that long
    5xx=P, 500=P, 503=P - server error before processing
    html502=P - HTML 502 Bad Gateway page before processing
    timeout_after_accept=P\[:HOLD|:close] - commit, then hold the reply HOLD (default 20s) and close
    without a reply, or close at once (default scope POST /api/v1/order)
    drop_cancel_reply=P - apply the cancel, close without a reply (DELETE /api/v1/order)
    malformed=P - truncated JSON body on a successful reply (default scope GET)
    nested_json=P - process, then reply 200 with JSON nested 100,000 levels deep (every request)
    anon_open_orders=P - openOrders rows without orderClientId (GET /api/v1/openOrders)
    zero_price_book=P - the order book's best bid priced "0" (GET /api/v2/orderbook)
    late_fills=DUR - own trades appear in users/transactions/trade only DUR after the fill
    seed=N - seed of the fault RNG

    Example: --faults 'latency=50ms~20ms,429=0.05:3s,5xx@POST /api/v1/order=0.2,late_fills=30s,seed=7'
    """
    from btcbot.adapters.sim.faults import PUBLISHED_LIMITS, FaultPlan
    from btcbot.adapters.sim.server import SimServer, is_loopback, open_server_sim
    from btcbot.domain.errors import ConfigError

    if not is_loopback(host) and not allow_remote:
        raise ConfigError(f"--host {host}: not a loopback address, and the control endpoints (/__sim/...) are "
                          "unauthenticated; bind 127.0.0.1, or pass --allow-remote to serve it anyway")
    settings = settings_from(config, state_dir)
    try:
        plan = FaultPlan.parse(faults)
    except ValueError as exc:
        raise ConfigError(f"--faults: {exc}") from None
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    sim = open_server_sim(
        settings.state_dir,
        seed=settings.sim_seed if seed is None else seed,
        tick_seconds=tick_seconds,
        cancel_delay=cancel_delay,
    )
    try:
        server = SimServer(
            sim, plan, api_key, api_secret, host=host, port=port, limits=PUBLISHED_LIMITS if rate_limits else {}
        )
        try:
            server.start()
        except OSError as exc:
            raise ConfigError(f"--host/--port: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
        try:
            _wait_for_signal(server.url)
        finally:
            server.stop()
    finally:
        sim.close()


def _wait_for_signal(url: str) -> None:
    stop = threading.Event()

    def _handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        sys.stdout.write(f"btcbot sim serve listening on {url}\n")
        sys.stdout.flush()
        while not stop.wait(0.2):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


sim_app.command("serve")(serve)


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")
