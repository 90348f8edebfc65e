"""Circuit-breaker persistence (R-REL-1): one `breaker` row per venue, and its BREAKER_CHANGED events.

Per venue, like the rest of the journal: an open breaker of the live exchange does not stop the offline
simulator, and the paper venue (dry-run on BTCTurk's public data) counts its own failures.

Kept apart from store.py to keep modules small; `Store` mixes these methods in.
"""

from __future__ import annotations

import json
from datetime import datetime

from btcbot.adapters.sqlite.mixin import StoreMixin, iso, parse_iso
from btcbot.domain.breaker import Breaker, BreakerState, Step
from btcbot.domain.events import Event, EventKind

__all__ = ["BreakerMixin"]


def _iso(ts: datetime | None) -> str | None:
    return iso(ts) if ts is not None else None


def _parse(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


class BreakerMixin(StoreMixin):

    def breaker(self) -> Breaker:
        """The persisted breaker (closed when never saved)."""
        row = self.db.query_one("SELECT * FROM breaker WHERE name = ?", (self.venue,))
        if row is None:
            return Breaker()
        window = tuple((when, bool(failed)) for at, failed in json.loads(row["window"]) if (when := _parse(at)))
        return Breaker(BreakerState(row["state"]), window, _parse(row["opened_at"]), _parse(row["next_probe_at"]))

    def save_breaker(self, step: Step, cycle_id: int | None, now: datetime) -> None:
        """Persist `step.after`; a state change writes its BREAKER_CHANGED event in the same transaction."""
        after = step.after
        window = json.dumps([[_iso(at), int(failed)] for at, failed in after.outcomes])
        with self.db.atomic() as conn:
            conn.execute(
                "INSERT INTO breaker (name, state, failures, window, opened_at, next_probe_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET state = excluded.state, "
                "failures = excluded.failures, window = excluded.window, opened_at = excluded.opened_at, "
                "next_probe_at = excluded.next_probe_at",
                (self.venue, after.state.value, after.failures, window, _iso(after.opened_at),
                 _iso(after.next_probe_at)),
            )
            if step.changed:
                detail = {"from": step.before.state.value, "to": after.state.value, **step.detail}
                event = Event(EventKind.BREAKER_CHANGED, step.event.value if step.event else "", detail=detail)
                self._insert_event(conn, event, cycle_id, now)
