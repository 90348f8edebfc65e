"""The lifecycle planner with persisted replace chains (R-LIFE, R-EXEC-7): starting a replace, every move of an
open step, re-planning after a fill during the cancel, and resuming after a crash."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from factories import T0, D, make_chain, make_intent, make_order, make_plan_params
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from btcbot.domain.models import Intent, LocalOrder, Side
from btcbot.domain.order_fsm import OrderStatus
from btcbot.domain.planner import CHAIN_META, Plan, PlanParams, plan
from btcbot.domain.replace_fsm import ReplaceEvent, ReplaceState

S, R, E = OrderStatus, ReplaceState, ReplaceEvent
PARAMS = make_plan_params(stale_order_seconds=600, stale_price_bps="20")
STAGE4 = PlanParams(600, D("20"), replace_buy_on_quantity=True, fills_wait_seconds=300)
BUY = make_intent(side=Side.BUY, price="2000000", quantity="0.0001")
SELL = make_intent(side=Side.SELL, price="2100000", quantity="0.0002")


def _moves(result: Plan) -> list[tuple[int, ReplaceEvent, ReplaceState]]:
    return [(m.before.id, m.event, m.after.state) for m in result.chain_moves]


def _codes(result: Plan) -> list[str]:
    return [d.code for d in result.blocked]


def _old(status: OrderStatus, **kwargs: object) -> LocalOrder:
    defaults: dict[str, object] = {"side": Side.SELL, "price": "2050000", "quantity": "0.0003", "age_seconds": 30}
    return make_order("old", status=status, **{**defaults, **kwargs})  # type: ignore[arg-type]


# -- starting a replace ---------------------------------------------------------------------------------------


def test_plan_price_moved_with_intent_cancel_carries_planned_replacement() -> None:
    live = make_order("live", price="2004100", age_seconds=60)
    result = plan([BUY], [live], T0, PARAMS)
    assert [(c.order.client_order_id, c.code, c.replacement) for c in result.cancels] == [
        ("live", "REPLACE_PRICE_MOVED", BUY)]
    assert result.replaces == result.cancels
    assert result.submits == [] and _codes(result) == ["REPLACE_AWAITING_CANCEL"]


def test_plan_stale_age_with_intent_is_a_replace_without_intent_a_plain_cancel() -> None:
    old = make_order("old", age_seconds=601)
    assert plan([BUY], [old], T0, PARAMS).replaces[0].code == "CANCEL_STALE_AGE"
    assert plan([], [old], T0, PARAMS).cancels[0].replacement is None


def test_plan_two_mismatched_orders_one_side_only_newest_carries_the_replacement() -> None:
    a, b = make_order("a", price="1900000", age_seconds=10), make_order("b", price="1900000", age_seconds=20)
    result = plan([BUY], [a, b], T0, PARAMS)
    assert [(c.order.client_order_id, c.code) for c in result.cancels] == [
        ("a", "REPLACE_PRICE_MOVED"), ("b", "REPLACE_PRICE_MOVED")]
    assert [c.order.client_order_id for c in result.replaces] == ["a"]


def test_plan_buy_size_change_replaced_only_with_stage4_params() -> None:
    live = make_order("live", price="2000000", quantity="0.0002", age_seconds=60)
    assert plan([BUY], [live], T0, PARAMS).keeps == [live]
    result = plan([BUY], [live], T0, STAGE4)
    assert [(c.code, c.replacement) for c in result.cancels] == [("REPLACE_QUANTITY_CHANGED", BUY)]


def test_plan_open_chain_on_side_no_second_replace_started() -> None:
    old = _old(S.CANCEL_REQUESTED, age_seconds=5)
    other = make_order("other", side=Side.SELL, price="1900000", age_seconds=5)
    result = plan([SELL], [old, other], T0, PARAMS, [make_chain(old)])
    assert result.replaces == [] and [c.order.client_order_id for c in result.cancels] == ["other"]


# -- an open step while the cancel is pending -------------------------------------------------------------------


def test_plan_chain_cancel_pending_blocks_replacement() -> None:
    old = _old(S.CANCEL_REQUESTED, age_seconds=5)
    result = plan([SELL], [old], T0, PARAMS, [make_chain(old)])
    assert result.submits == [] and result.chain_moves == []
    assert _codes(result) == ["REPLACE_AWAITING_CANCEL"]


def test_plan_chain_fill_during_pending_cancel_noted_once() -> None:
    old = _old(S.CANCEL_REQUESTED, filled_quantity="0.0001", exchange_filled="0.0001", age_seconds=5)
    result = plan([SELL], [old], T0, PARAMS, [make_chain(old)])
    assert _moves(result) == [(1, E.OLD_PARTIALLY_FILLED, R.CANCEL_REQUESTED)]
    assert result.chain_moves[0].detail == {"filled_before": "0", "filled_now": "0.0001"}
    again = plan([SELL], [old], T0, PARAMS, [make_chain(old, filled_seen="0.0001")])
    assert again.chain_moves == [] and again.submits == []


def test_plan_chain_cancel_refused_abandoned_and_live_order_planned_afresh() -> None:
    old = _old(S.OPEN, price="1900000")  # CANCEL_FAILED moved it back to OPEN; the price is still off
    result = plan([SELL], [old], T0, PARAMS, [make_chain(old)])
    assert _moves(result) == [(1, E.CANCEL_REFUSED, R.ABANDONED)]
    assert [(c.order.client_order_id, c.replacement) for c in result.cancels] == [("old", SELL)]


# -- the old order is terminal ----------------------------------------------------------------------------------


def test_plan_chain_old_canceled_ready_and_replacement_linked_in_same_plan() -> None:
    old = _old(S.CANCELED)
    result = plan([SELL], [], T0, PARAMS, [make_chain(old)])
    assert _moves(result) == [(1, E.OLD_TERMINAL, R.READY)]
    assert result.chain_moves[0].detail["replan"] == "no fill during cancel"
    assert result.submits == [SELL] and result.submits[0].meta[CHAIN_META] == "1"


def test_plan_fill_during_replace_replacement_sized_from_new_position_not_the_stale_plan() -> None:
    # planned: sell 0.0003 (the whole position then); 0.0001 filled while the cancel was pending, then cancelled;
    # this cycle's strategy, from the position as it is now, wants 0.0002
    old = _old(S.CANCELED, filled_quantity="0.0001", exchange_filled="0.0001")
    step = make_chain(old, planned_quantity="0.0003", filled_at_request="0")
    now_wanted = make_intent(side=Side.SELL, price="2100000", quantity="0.0002")
    result = plan([now_wanted], [], T0, PARAMS, [step])
    assert _moves(result) == [(1, E.OLD_TERMINAL, R.READY)]
    assert result.chain_moves[0].detail == {"old_status": "CANCELED", "filled_during_cancel": "0.0001",
                                            "replan": "from position"}
    assert [(i.quantity, i.meta[CHAIN_META]) for i in result.submits] == [(D("0.0002"), "1")]
    assert all(i.quantity != step.chain.planned_quantity for i in result.submits)


def test_plan_old_buy_filled_wholly_during_cancel_nothing_replaced() -> None:
    old = _old(S.FILLED, side=Side.BUY, quantity="0.0001", filled_quantity="0.0001", exchange_filled="0.0001")
    result = plan([SELL], [], T0, PARAMS, [make_chain(old)])  # holding now: the strategy wants a sell, no buy
    assert _moves(result) == [(1, E.OLD_TERMINAL, R.READY), (1, E.NOT_WANTED, R.ABANDONED)]
    assert [(i.side, CHAIN_META in i.meta) for i in result.submits] == [(Side.SELL, False)]


def test_plan_old_terminal_fills_not_visible_waits_then_proceeds() -> None:
    old = _old(S.CANCELED, filled_quantity="0", exchange_filled="0.0001")
    result = plan([SELL], [], T0, PARAMS, [make_chain(old)])
    assert _moves(result) == [(1, E.OLD_TERMINAL_FILLS_PENDING, R.AWAITING_FILLS)]
    assert result.submits == [] and _codes(result) == ["REPLACE_AWAITING_FILLS"]
    waiting = make_chain(old, R.AWAITING_FILLS, filled_seen="0.0001")
    assert plan([SELL], [], T0 + timedelta(seconds=299), PARAMS, [waiting]).submits == []
    late = plan([SELL], [], T0 + timedelta(seconds=300), PARAMS, [waiting])
    assert _moves(late) == [(1, E.FILLS_WAIT_EXPIRED, R.READY)] and late.submits[0].meta[CHAIN_META] == "1"


def test_plan_awaiting_fills_recorded_ready() -> None:
    old = _old(S.CANCELED, filled_quantity="0.0001", exchange_filled="0.0001")
    result = plan([SELL], [], T0, PARAMS, [make_chain(old, R.AWAITING_FILLS)])
    assert _moves(result) == [(1, E.FILLS_RECORDED, R.READY)]
    assert len(result.submits) == 1


# -- crash recovery ---------------------------------------------------------------------------------------------


def test_plan_crash_between_cancel_confirm_and_submit_resumes_from_ready() -> None:
    old = _old(S.CANCELED)  # READY was committed, then the process died before the submit
    result = plan([SELL], [], T0 + timedelta(hours=1), PARAMS, [make_chain(old, R.READY)])
    assert result.chain_moves == [] and result.cancels == []
    assert [i.meta[CHAIN_META] for i in result.submits] == ["1"]


def test_plan_crash_before_ready_committed_resumes_from_cancel_requested() -> None:
    old = _old(S.CANCELED)  # reconcile settled the old order, the chain move never committed
    result = plan([SELL], [], T0 + timedelta(hours=1), PARAMS, [make_chain(old, R.CANCEL_REQUESTED)])
    assert _moves(result) == [(1, E.OLD_TERMINAL, R.READY)] and len(result.submits) == 1


def test_plan_crash_after_replacement_journaled_blocks_until_settled() -> None:
    # REPLACED is no longer open: only the in-flight replacement row is left, and it blocks the side
    new = make_order("new", side=Side.SELL, status=S.SUBMITTING, exchange_order_id=None)
    result = plan([SELL], [new], T0, PARAMS, [])
    assert result.submits == [] and _codes(result) == ["DEDUPE_IN_FLIGHT"]


# -- holding and abandoning -------------------------------------------------------------------------------------


def test_plan_ready_without_intent_on_stale_symbol_held() -> None:
    step = make_chain(_old(S.CANCELED), R.READY)
    assert plan([], [], T0, PARAMS, [step], fresh=set()).chain_moves == []
    gone = plan([], [], T0, PARAMS, [step], fresh={"BTCTRY"})
    assert _moves(gone) == [(1, E.NOT_WANTED, R.ABANDONED)]


def test_plan_ready_but_another_live_order_covers_side_abandoned() -> None:
    step = make_chain(_old(S.CANCELED), R.READY)
    live = make_order("live", side=Side.SELL, price="2100000", quantity="0.0002", age_seconds=5)
    result = plan([SELL], [live], T0, PARAMS, [step])
    assert _moves(result) == [(1, E.NOT_WANTED, R.ABANDONED)]
    assert result.chain_moves[0].detail == {"covered_by": "live"}
    assert result.keeps == [live] and result.submits == []


def test_plan_ready_waits_while_another_cancel_on_side_is_pending() -> None:
    step = make_chain(_old(S.CANCELED), R.READY)
    pending = make_order("dup", side=Side.SELL, status=S.CANCEL_REQUESTED, age_seconds=5)
    result = plan([SELL], [pending], T0, PARAMS, [step])
    assert result.chain_moves == [] and result.submits == []
    assert _codes(result) == ["REPLACE_AWAITING_CANCEL"]
    after = plan([SELL], [], T0, PARAMS, [step])  # the other cancel confirmed: the replacement goes out, linked
    assert [i.meta[CHAIN_META] for i in after.submits] == ["1"]


def test_plan_recently_filled_order_with_unlisted_fills_blocks_its_side() -> None:
    # the venue says our buy filled, its fills are not listed yet: the position the new buy was sized from is stale
    filled = make_order("filled", status=S.FILLED, quantity="0.0001", exchange_filled="0.0001")
    result = plan([BUY, SELL], [], T0, PARAMS, unsettled=[filled])
    assert result.submits == [SELL]
    assert [(d.code, d.detail) for d in result.blocked] == [
        ("DEDUPE_FILLS_PENDING", {"client_order_id": "filled", "venue_filled": "0.0001", "fills_recorded": "0"})]
    listed = make_order("filled", status=S.FILLED, quantity="0.0001", exchange_filled="0.0001",
                        filled_quantity="0.0001")
    assert plan([BUY], [], T0, PARAMS, unsettled=[listed]).submits == [BUY]


# -- properties -------------------------------------------------------------------------------------------------


statuses = st.sampled_from([S.OPEN, S.PARTIALLY_FILLED, S.CANCEL_REQUESTED, S.CANCELED, S.FILLED])
chain_states = st.sampled_from(sorted(s for s in ReplaceState if s not in (R.REPLACED, R.ABANDONED)))


@given(statuses, chain_states, st.decimals(min_value=0, max_value=3, places=0), st.booleans(),
       st.integers(min_value=0, max_value=1000), st.booleans())
@settings(max_examples=300)
def test_plan_chain_any_state_never_two_live_and_links_only_when_ready(
    old_status: OrderStatus, state: ReplaceState, filled: Decimal, accounted: bool, age: int, wanted: bool
) -> None:
    recorded = filled if accounted else Decimal(0)
    old = _old(old_status, quantity="0.0003", filled_quantity=recorded * D("0.0001"),
               exchange_filled=filled * D("0.0001"))
    assume(state is R.CANCEL_REQUESTED or old_status in (S.CANCELED, S.FILLED))  # else the old order is terminal
    step = make_chain(old, state)
    live = [old] if old_status in (S.OPEN, S.PARTIALLY_FILLED, S.CANCEL_REQUESTED) else []
    intents: list[Intent] = [SELL] if wanted else []
    result = plan(intents, live, T0 + timedelta(seconds=age), PARAMS, [step])
    linked = [i for i in result.submits if CHAIN_META in i.meta]
    final = result.chain_moves[-1].after.state if result.chain_moves else state
    assert not (live and result.submits)  # never a submit next to a live order of the same side
    assert bool(linked) == (final is R.READY and wanted)
    assert len(result.replaces) <= 1
    assert all(i.quantity == SELL.quantity for i in linked)  # this cycle's intent, never the planned size
    previous = state
    for move in result.chain_moves:  # consecutive legal edges from where the step was
        assert move.before.state is previous
        previous = move.after.state

