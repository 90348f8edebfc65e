"""Start-up stays cheap (R-PERF, issue 10): each command imports what its path needs, nothing heavier. Checked by
what a fresh interpreter has imported after the command, not by timing (figures: README, Benchmarks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

_PROBE = """
import contextlib, io, json, sys
import btcbot.cli
with contextlib.redirect_stdout(io.StringIO()):
    try:
        btcbot.cli.app(args=sys.argv[1:], standalone_mode=False)
    except SystemExit:
        pass
print(json.dumps(sorted(sys.modules)))
"""


def _imported(args: list[str], state_dir: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True,
                          env={"PATH": "/usr/bin:/bin", "BTCBOT_STATE_DIR": str(state_dir),
                               "BTCBOT_SIM_STEP_SECONDS": "1"}, cwd=state_dir.parent)
    return set(json.loads(done.stdout.splitlines()[-1]))


def _under(modules: set[str], *prefixes: str) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in prefixes or m.startswith(prefixes))


def test_help_imports_no_rich_help_no_pydantic_and_no_service(isolated_env: Path) -> None:
    modules = _imported(["--help"], isolated_env)
    assert _under(modules, "rich", "pydantic", "httpx", "btcbot.services.", "btcbot.adapters.") == []


@pytest.mark.parametrize("args", [["run"], ["status"], ["status", "--json"]])
def test_run_and_status_import_neither_http_nor_backtests_nor_plots(isolated_env: Path, args: list[str]) -> None:
    _imported(["run"], isolated_env)  # a journal to look at
    modules = _imported(args, isolated_env)
    assert _under(modules, "httpx", "matplotlib", "numpy", "dask", "rich.markdown", "btcbot.backtest.",
                  "btcbot.adapters.btcturk.") == []
    if args[0] == "status":  # read-only: no cycle, no simulator
        assert _under(modules, "btcbot.services.cycle", "btcbot.services.execution", "btcbot.adapters.sim.") == []
