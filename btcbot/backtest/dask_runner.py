"""Sweeps on a Dask cluster (`dask.distributed`, the optional extra `btcbot[dask]`).

The candles are scattered to every worker once; each point is one task (`sweep.run_point`), not cached by
Dask (`pure=False`), gathered back into grid order. Workers need the same btcbot installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from btcbot.backtest.sweep import CandleSet, PointTask, run_point
from btcbot.domain.errors import ConfigError

__all__ = ["run_on_dask"]


def run_on_dask(address: str, tasks: Sequence[PointTask], data: CandleSet,
                progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    try:
        from distributed import Client, as_completed  # untyped library: calls checked by the tests
    except ImportError:
        raise ConfigError("--dask-scheduler needs dask.distributed: pip install 'btcbot[dask]'") from None
    try:
        client = Client(address, timeout="15s", set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"--dask-scheduler {address}: cannot connect ({exc})") from None
    with client:
        scattered = client.scatter(data, broadcast=True)  # type: ignore[no-untyped-call]
        futures = [client.submit(run_point, task, scattered, pure=False) for task in tasks]
        index = {future.key: position for position, future in enumerate(futures)}
        results: list[dict[str, Any] | None] = [None] * len(futures)
        for done, future in enumerate(as_completed(futures, loop=client.loop), 1):  # type: ignore[no-untyped-call]
            results[index[future.key]] = future.result()
            if progress is not None:
                progress(done, len(futures))
    return [r for r in results if r is not None]
