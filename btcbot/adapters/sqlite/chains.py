"""Replace-chain persistence (R-LIFE): one row per step old → new, moved only through the pure replace
machine (`domain/replace_fsm.py`), each move with its event in the same transaction.

A step starts in the transaction that moves its old order to CANCEL_REQUESTED, and is completed (REPLACED) in
the write-ahead transaction of the replacement's order row, so a crash anywhere leaves a state the next cycle
resumes from. Kept apart from store.py to keep modules small; `Store` mixes these methods in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from btcbot.adapters.sqlite.mixin import StoreMixin
from btcbot.adapters.sqlite.mixin import iso as _iso
from btcbot.adapters.sqlite.mixin import parse_iso as _parse
from btcbot.domain.events import Event, EventKind
from btcbot.domain.models import Intent, LocalOrder, Side
from btcbot.domain.money import dec_str, to_decimal
from btcbot.domain.order_fsm import OrderEvent, OrderStatus
from btcbot.domain.replace_fsm import (
    OPEN_STATES,
    ChainStep,
    ReplaceChain,
    ReplaceEvent,
    ReplaceState,
    replace_transition,
)

if TYPE_CHECKING:  # the planner is not needed to read or write chains (status stays light)
    from btcbot.domain.planner import ChainMove

__all__ = ["ChainsMixin"]

_OPEN = tuple(s.value for s in OPEN_STATES)


class ChainsMixin(StoreMixin):
    def apply_order_event(self, client_order_id: str, order_event: OrderEvent, *, now: datetime,
                          cycle_id: int | None, code: str = "", detail: dict[str, str] | None = None,
                          exchange_order_id: int | None = None, exchange_filled: Decimal | None = None) -> LocalOrder:
        raise NotImplementedError  # provided by Store

    # -- writes ------------------------------------------------------------------------------------------
    def request_cancel(self, client_order_id: str, *, code: str, detail: dict[str, str], now: datetime,
                       cycle_id: int | None, replacement: Intent | None = None, trigger: str = "",
                       stage: str = "") -> LocalOrder:
        """Move the order to CANCEL_REQUESTED with its event and, in the same transaction, start the replace
        step that `replacement` asks for, or note a re-sent cancel on the order's open step."""
        with self.db.atomic() as conn:
            before = self._order_row(conn, client_order_id)
            order = self.apply_order_event(client_order_id, OrderEvent.CANCEL_REQUESTED, code=code, detail=detail,
                                           now=now, cycle_id=cycle_id)
            step = self._open_step_of(conn, client_order_id)
            if step is not None and before.status is OrderStatus.CANCEL_REQUESTED:
                self._move(conn, step, ReplaceEvent.CANCEL_RESENT, step.old_filled_seen, {"code": code}, cycle_id,
                           now)
            elif step is None and replacement is not None and self._open_on_key(conn, order) is None:
                self._start(conn, before, replacement, trigger or code, stage or before.stage, cycle_id, now)
        return order

    def move_chains(self, moves: Iterable[ChainMove], cycle_id: int | None, now: datetime) -> None:
        """Persist the planner's chain moves; each is re-checked against the stored state."""
        for move in moves:
            with self.db.atomic() as conn:
                current = self._chain_where(conn, "id = ?", (move.before.id,))
                if current is None:
                    raise KeyError(move.before.id)
                self._move(conn, current, move.event, move.after.old_filled_seen, move.detail, cycle_id, now)

    def complete_chain(self, chain_id: int, new: LocalOrder, cycle_id: int | None, now: datetime) -> None:
        """READY → REPLACED: link the replacement; call it inside the write-ahead transaction of its order row."""
        with self.db.atomic() as conn:
            chain = self._chain_where(conn, "id = ?", (chain_id,))
            if chain is None:
                raise KeyError(chain_id)
            detail = {"new_client_order_id": new.client_order_id, "planned_price": dec_str(chain.planned_price),
                      "price": dec_str(new.price), "planned_quantity": dec_str(chain.planned_quantity),
                      "quantity": dec_str(new.quantity)}
            self._move(conn, chain, ReplaceEvent.SUBMITTED, chain.old_filled_seen, detail, cycle_id, now,
                       new_cid=new.client_order_id)

    def _start(self, conn: sqlite3.Connection, old: LocalOrder, replacement: Intent, trigger: str, stage: str,
               cycle_id: int | None, now: datetime) -> None:
        parent = conn.execute("SELECT root_client_order_id, seq FROM replace_chains WHERE venue = ? AND "
                              "new_client_order_id = ? ORDER BY id DESC LIMIT 1",
                              (self.venue, old.client_order_id)).fetchone()
        root, seq = (parent["root_client_order_id"], parent["seq"] + 1) if parent else (old.client_order_id, 1)
        filled = dec_str(max(old.filled_quantity, old.exchange_filled))
        cur = conn.execute(
            "INSERT INTO replace_chains (venue, root_client_order_id, seq, symbol, side, old_client_order_id, "
            "state, trigger, planned_price, planned_quantity, old_filled_at_request, old_filled_seen, stage, "
            "cycle_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.venue, root, seq, old.symbol, old.side.value, old.client_order_id,
             ReplaceState.CANCEL_REQUESTED.value, trigger, dec_str(replacement.price),
             dec_str(replacement.quantity), filled, filled, stage, cycle_id, _iso(now), _iso(now)))
        detail = {"chain_id": str(cur.lastrowid), "root": root, "seq": str(seq), "from": "", "to":
                  ReplaceState.CANCEL_REQUESTED.value, "trigger": trigger,
                  "planned_price": dec_str(replacement.price), "planned_quantity": dec_str(replacement.quantity)}
        self._insert_event(conn, Event(EventKind.REPLACE_CHAIN_CHANGED, "REPLACE_STARTED", old.symbol,
                                       old.client_order_id, detail), cycle_id, now)

    def _move(self, conn: sqlite3.Connection, chain: ReplaceChain, event: ReplaceEvent, filled_seen: Decimal,
              detail: dict[str, str], cycle_id: int | None, now: datetime, new_cid: str | None = None) -> None:
        state = replace_transition(chain.state, event)
        conn.execute(
            "UPDATE replace_chains SET state = ?, old_filled_seen = ?, new_client_order_id = COALESCE(?, "
            "new_client_order_id), cycle_id = ?, updated_at = ? WHERE id = ?",
            (state.value, dec_str(filled_seen), new_cid, cycle_id, _iso(now), chain.id))
        info = {"chain_id": str(chain.id), "root": chain.root_client_order_id, "seq": str(chain.seq),
                "from": chain.state.value, "to": state.value, **detail}
        self._insert_event(conn, Event(EventKind.REPLACE_CHAIN_CHANGED, event.value, chain.symbol,
                                       chain.old_client_order_id, info), cycle_id, now)

    # -- reads -------------------------------------------------------------------------------------------
    def open_chain_steps(self) -> list[ChainStep]:
        """Open steps with the current row of each old order (what the planner advances)."""
        from btcbot.adapters.sqlite.store import _order_from_row

        with self.db.atomic() as conn:
            chains = self._chains(conn, f"venue = ? AND state IN ({','.join('?' * len(_OPEN))})",
                                  (self.venue, *_OPEN))
            steps = []
            for chain in chains:
                row = conn.execute("SELECT * FROM orders WHERE client_order_id = ?",
                                   (chain.old_client_order_id,)).fetchone()
                steps.append(ChainStep(chain, _order_from_row(row)))
        return steps

    def chains(self, *, cycle_id: int | None = None, limit: int | None = None) -> list[ReplaceChain]:
        """Steps of this venue, newest change first: those a cycle touched, or the latest `limit` plus every
        open one."""
        with self.db.atomic() as conn:
            if cycle_id is not None:
                return self._chains(conn, "venue = ? AND cycle_id = ? ORDER BY updated_at DESC, id DESC",
                                    (self.venue, cycle_id))
            open_ = self._chains(conn, f"venue = ? AND state IN ({','.join('?' * len(_OPEN))}) ORDER BY id DESC",
                                 (self.venue, *_OPEN))
            latest = self._chains(conn, f"venue = ? ORDER BY updated_at DESC, id DESC LIMIT {int(limit or 10)}",
                                  (self.venue,))
        merged = {c.id: c for c in open_ + latest}
        return sorted(merged.values(), key=lambda c: (c.updated_at, c.id), reverse=True)

    def _open_step_of(self, conn: sqlite3.Connection, old_cid: str) -> ReplaceChain | None:
        return self._chain_where(conn, f"venue = ? AND old_client_order_id = ? AND state IN "
                                       f"({','.join('?' * len(_OPEN))}) ORDER BY id DESC",
                                 (self.venue, old_cid, *_OPEN))

    def _open_on_key(self, conn: sqlite3.Connection, order: LocalOrder) -> ReplaceChain | None:
        return self._chain_where(conn, f"venue = ? AND symbol = ? AND side = ? AND state IN "
                                       f"({','.join('?' * len(_OPEN))}) ORDER BY id DESC",
                                 (self.venue, order.symbol, order.side.value, *_OPEN))

    def _order_row(self, conn: sqlite3.Connection, client_order_id: str) -> LocalOrder:
        from btcbot.adapters.sqlite.store import _order_from_row

        row = conn.execute("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()
        if row is None:
            raise KeyError(client_order_id)
        return _order_from_row(row)

    def _chain_where(self, conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> ReplaceChain | None:
        found = self._chains(conn, where + " LIMIT 1" if "LIMIT" not in where else where, params)
        return found[0] if found else None

    def _chains(self, conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> list[ReplaceChain]:
        return [_chain_from_row(r) for r in conn.execute(f"SELECT * FROM replace_chains WHERE {where}", params)]


def _chain_from_row(r: sqlite3.Row) -> ReplaceChain:
    return ReplaceChain(
        id=int(r["id"]), root_client_order_id=r["root_client_order_id"], seq=int(r["seq"]), symbol=r["symbol"],
        side=Side(r["side"]), old_client_order_id=r["old_client_order_id"],
        new_client_order_id=r["new_client_order_id"], state=ReplaceState(r["state"]), trigger=r["trigger"],
        planned_price=to_decimal(r["planned_price"]), planned_quantity=to_decimal(r["planned_quantity"]),
        old_filled_at_request=to_decimal(r["old_filled_at_request"]),
        old_filled_seen=to_decimal(r["old_filled_seen"]), stage=r["stage"], created_at=_parse(r["created_at"]),
        updated_at=_parse(r["updated_at"]),
    )
