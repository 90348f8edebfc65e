"""The write-ahead step of a submit (R-EXEC-2/3/5), part of the one execution core (`execution.py`).

In one transaction: claim the hard idempotency key (stages whose `StageConfig.idempotency` is on), claim the
dedupe action, insert the order row as SUBMITTING and write its event. Nothing is sent unless all of it
committed. When a claim refuses, whatever was claimed before it is rolled back, and the reason is recorded:
- the dedupe action table or an existing order row → ACTION_DEDUPED `DEDUPE_ACTION_BUCKET` (every stage);
- the same idempotency key with the same payload → ACTION_DEDUPED `IDEMPOTENT_REPLAY`, a no-op;
- the same idempotency key with another payload → IDEMPOTENCY_CONFLICT `IDEMPOTENCY_CONFLICT`, the submit is
  not taken (a denial in the cycle's report).
Events of idempotent claims have deterministic ids (INSERT OR IGNORE): the same fact is recorded once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from btcbot.adapters.sqlite.idempotency import IdempotencyRecord
from btcbot.domain.events import Event, EventKind
from btcbot.domain.idempotency import CONFLICT_CODE, REPLAY_CODE, IdemVerdict, event_key, submit_key
from btcbot.domain.ids import action_key, bucket_of
from btcbot.domain.models import Denial, Intent, LocalOrder
from btcbot.domain.money import dec_str
from btcbot.domain.oms import oms_state
from btcbot.domain.planner import CHAIN_META
from btcbot.domain.preflight import Preflighted

if TYPE_CHECKING:
    from btcbot.services.execution import ExecutionContext, ExecutionReport

__all__ = ["NotTaken", "record_not_taken", "write_ahead"]

NotTaken = tuple[IdemVerdict | None, IdempotencyRecord | None]  # verdict None: deduped by the action table


class _Refused(Exception):
    """Raised inside the write-ahead transaction to roll back whatever it claimed."""

    def __init__(self, verdict: IdemVerdict | None, record: IdempotencyRecord | None = None) -> None:
        super().__init__(verdict)
        self.outcome: NotTaken = (verdict, record)


def write_ahead(order: LocalOrder, checked: Preflighted, ctx: ExecutionContext) -> NotTaken | None:
    """Journal the submit before any network call. None: journaled, send it; otherwise why it was not taken."""
    store, now, bucket = ctx.store, ctx.now, bucket_of(ctx.now, ctx.bucket_seconds)
    idem = submit_key(store.venue, ctx.stage, order.symbol, order.side, bucket) if ctx.idempotency else None
    try:
        with store.db.atomic():
            if idem is not None:
                verdict, record = store.claim_idempotency(idem, order.intent_hash, order.client_order_id, now)
                if verdict is not IdemVerdict.NEW:
                    raise _Refused(verdict, record)
            if store.order(order.client_order_id) is not None or not store.claim_action(
                    action_key("submit", order.intent_hash, bucket), "submit", order.intent_hash, bucket,
                    ctx.cycle_id, now):
                raise _Refused(None)  # also rolls back the idempotency claim: nothing was taken under it
            detail = {"side": order.side.value, "price": dec_str(order.price), "quantity": dec_str(order.quantity),
                      "bumped": str(checked.bumped), "dry_run": str(ctx.dry_run),
                      "oms": oms_state(order.status).value}
            if idem is not None:
                detail["idempotency_key"] = idem
            event = Event(EventKind.ORDER_SUBMITTING, "WRITE_AHEAD", order.symbol, order.client_order_id, detail)
            ekey = event_key(IdemVerdict.NEW, idem, order.intent_hash) if idem is not None else None
            store.insert_order(order, ctx.cycle_id, event, now, event_key=ekey)
            if CHAIN_META in checked.intent.meta:  # a replacement: its chain step completes in this transaction
                store.complete_chain(int(checked.intent.meta[CHAIN_META]), order, ctx.cycle_id, now)
    except _Refused as refused:
        return refused.outcome
    return None


def record_not_taken(outcome: NotTaken, intent: Intent, order: LocalOrder, ctx: ExecutionContext,
                     report: ExecutionReport) -> None:
    """Record why a submit was not taken: a dedupe, an idempotent replay (no-op) or a conflict (denied)."""
    verdict, record = outcome
    cid = order.client_order_id
    if verdict is None or record is None:
        key = action_key("submit", order.intent_hash, bucket_of(ctx.now, ctx.bucket_seconds))
        ctx.store.record([Event(EventKind.ACTION_DEDUPED, "DEDUPE_ACTION_BUCKET", intent.symbol, cid,
                                {"key": key})], ctx.cycle_id, ctx.now)
        report.deduped.append(intent)
        return
    detail = {"key": record.key, "payload_hash": order.intent_hash, "recorded_payload_hash": record.payload_hash,
              "recorded_result": record.result or "", "side": order.side.value, "price": dec_str(order.price),
              "quantity": dec_str(order.quantity)}
    replay = verdict is IdemVerdict.REPLAY
    kind, code = (EventKind.ACTION_DEDUPED, REPLAY_CODE) if replay else (EventKind.IDEMPOTENCY_CONFLICT,
                                                                            CONFLICT_CODE)
    ekey = event_key(verdict, record.key, order.intent_hash)
    ctx.store.record([Event(kind, code, intent.symbol, cid, detail)], ctx.cycle_id, ctx.now, key=lambda _: ekey)
    if replay:
        report.deduped.append(intent)
    else:
        report.denied.append(Denial(intent, code, detail))
