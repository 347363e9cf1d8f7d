"""Runs are named by their execution id and their slot (RunSlot, RunOutcome.scheduled_at,
PublishedRun.scheduled_at), on PostgreSQL and on SQLite: on PostgreSQL the slot is what lets a statement read only
the partitions of its runs' days, so each statement must really match it. A run named with a slot that is not its
own is another run: the claim does not find it, its outcome is not recorded, its publish is not marked."""

from __future__ import annotations

from datetime import timedelta

from scheduler_core.store import ClaimOutcome, PublishedRun, RunOutcome, RunSlot, Store
from scheduler_core.store.models import ExecutionStatus
from tests.contract.store.support import Maker, claim, claim_runs, execution, locks, pending_run, slots

_OFF = timedelta(microseconds=1)  # the smallest slot that is not the run's own


async def test_a_claim_with_another_slot_finds_nothing(store: Store, sessionmaker: Maker) -> None:
    _, execution_id = await pending_run(sessionmaker)
    slot = (await slots(sessionmaker, [execution_id]))[execution_id]
    [wrong] = await claim_runs(sessionmaker, [RunSlot(execution_id, slot + _OFF)])
    assert wrong.outcome is ClaimOutcome.ALREADY_HANDLED
    assert (await execution(sessionmaker, execution_id)).status_id == ExecutionStatus.PENDING
    assert await locks(sessionmaker) == {}
    [right] = await claim_runs(sessionmaker, [RunSlot(execution_id, slot)])
    assert right.outcome is ClaimOutcome.CLAIMED


async def test_a_claim_matches_each_run_with_its_own_slot_not_another_runs(store: Store, sessionmaker: Maker) -> None:
    """Two runs, each named with the other's slot: both slots and both ids are in the batch, yet neither is found."""
    _, first = await pending_run(sessionmaker, lateness_s=1)
    _, second = await pending_run(sessionmaker, lateness_s=2)
    slot_of = await slots(sessionmaker, [first, second])
    swapped = [RunSlot(first, slot_of[second]), RunSlot(second, slot_of[first])]
    results = await claim_runs(sessionmaker, swapped)
    assert [r.outcome for r in results] == [ClaimOutcome.ALREADY_HANDLED, ClaimOutcome.ALREADY_HANDLED]
    assert {(await execution(sessionmaker, eid)).status_id for eid in (first, second)} == {ExecutionStatus.PENDING}


async def test_an_outcome_with_another_slot_records_nothing(store: Store, sessionmaker: Maker) -> None:
    _, execution_id = await pending_run(sessionmaker)
    [claimed] = await claim(sessionmaker, [execution_id])
    assert claimed.run is not None
    slot = claimed.run.scheduled_at
    async with sessionmaker.begin() as session:
        wrong = RunOutcome(execution_id, slot + _OFF, ExecutionStatus.SUCCESS, 5, result_summary="wrong slot")
        assert (await store.outcomes.finish(session, [wrong], instance_id="exec-1")).recorded == set()
    row = await execution(sessionmaker, execution_id)
    assert (row.status_id, row.result_summary, row.completed_at) == (ExecutionStatus.RUNNING, None, None)
    async with sessionmaker.begin() as session:
        right = RunOutcome(execution_id, slot, ExecutionStatus.SUCCESS, 5, result_summary="ok")
        assert (await store.outcomes.finish(session, [right], instance_id="exec-1")).recorded == {execution_id}
    assert (await execution(sessionmaker, execution_id)).status_id == ExecutionStatus.SUCCESS


async def test_a_published_mark_with_another_slot_marks_nothing(store: Store, sessionmaker: Maker) -> None:
    _, execution_id = await pending_run(sessionmaker)
    slot = (await slots(sessionmaker, [execution_id]))[execution_id]
    async with sessionmaker.begin() as session:
        wrong = PublishedRun(execution_id, slot + _OFF, slot)
        assert await store.outbox.record_published(session, [wrong]) == []
    assert (await execution(sessionmaker, execution_id)).published_at is None
    async with sessionmaker.begin() as session:
        assert await store.outbox.record_published(session, [PublishedRun(execution_id, slot, slot)]) == [execution_id]
    assert (await execution(sessionmaker, execution_id)).published_at == slot
