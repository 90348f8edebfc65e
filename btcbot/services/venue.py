"""One state dir is one exchange: the journal records the `BTCBOT_EXCHANGE` it was first used with, and a run
with another exchange is refused (exit 2) instead of mixing their equity, drawdown and trading state.

Paper (dry-run) and live trading on the same exchange share a state dir: the journal keeps them apart by venue.
A journal from before this record adopts the exchange of the first command that writes to it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from btcbot.adapters.sqlite.store import Store
from btcbot.domain.errors import ConfigError
from btcbot.domain.events import Event, EventKind

__all__ = ["EXCHANGE_KEY", "check_exchange", "exchange_mismatch"]

EXCHANGE_KEY = "state_dir_exchange"


def exchange_mismatch(store: Store, exchange: str, state_dir: Path) -> str | None:
    """Why `exchange` must not use this journal (None: it may)."""
    recorded = store.get_kv(EXCHANGE_KEY)
    if recorded is None or recorded == exchange:
        return None
    return (f"state dir {state_dir} belongs to BTCBOT_EXCHANGE={recorded}, but this command has "
            f"BTCBOT_EXCHANGE={exchange}; use a separate state dir for {exchange} (--state-dir or "
            f"BTCBOT_STATE_DIR), or set BTCBOT_EXCHANGE={recorded}")


def check_exchange(store: Store, exchange: str, state_dir: Path, now: datetime | None, record: bool) -> None:
    """Refuse (ConfigError, exit 2) another exchange's journal; with `record`, a journal without a record is
    claimed for `exchange` (with its event). Read-only commands pass `record=False`."""
    problem = exchange_mismatch(store, exchange, state_dir)
    if problem is not None:
        raise ConfigError(problem)
    if record and now is not None and store.get_kv(EXCHANGE_KEY) is None:
        with store.db.atomic():
            store.set_kv(EXCHANGE_KEY, exchange, now)
            store.record([Event(EventKind.STATE_DIR_EXCHANGE_RECORDED, exchange, detail={"exchange": exchange})],
                         None, now)
