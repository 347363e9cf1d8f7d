"""What a batch costs on PostgreSQL: the claim and the finish are a fixed number of statements whatever the
batch size, each one SQL text (one compiled form in SQLAlchemy's cache, one prepared statement per connection)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import ClaimOutcome, NewExecution, RunOutcome, Store
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, InstanceStatus
from tests.contract.store.support import captured, claim_runs, db_now, locks, register, run_slots
from tests.support.factories import interval_job, new_id, task_function


async def test_a_batch_costs_the_same_statements_whatever_its_size(pg_engine: AsyncEngine, pg_store: Store) -> None:
    """Four statements per claim and one per outcome batch, the same SQL text for every batch size (one
    compiled form, one prepared statement)."""
    maker = create_sessionmaker(pg_engine)
    now = await db_now(maker)
    async with maker.begin() as session:
        task_id = await task_function(session)
        jobs = [
            await interval_job(session, next_run_at=None, max_instances=100, task_function_id=task_id) for _ in range(3)
        ]
        ids = [new_id() for _ in range(1 + 5 + 40)]
        await pg_store.outbox.add(
            session,
            [NewExecution(eid, jobs[i % 3].id, now - timedelta(milliseconds=i)) for i, eid in enumerate(ids)],
        )
    dead = await register(maker, InstanceStatus.STOPPED)
    claims: list[list[str]] = []
    finishes: list[list[str]] = []
    for batch in (ids[:1], ids[1:6], ids[6:]):
        runs = await run_slots(maker, batch)
        with captured(pg_engine) as claim_statements:
            results = await claim_runs(maker, runs)
        assert {r.outcome for r in results} == {ClaimOutcome.CLAIMED}
        outcomes = [RunOutcome(run.execution_id, run.scheduled_at, ExecutionStatus.SUCCESS, 1) for run in runs]
        with captured(pg_engine) as finish_statements:
            async with maker.begin() as session:
                assert (await pg_store.outcomes.finish(session, outcomes, instance_id="exec-1")).recorded == set(batch)
        claims.append([statement for statement, _ in claim_statements])
        finishes.append([statement for statement, _ in finish_statements])
    assert [len(c) for c in claims] == [4, 4, 4]
    assert [len(f) for f in finishes] == [1, 1, 1]
    assert len({s for c in claims for s in c}) == 4
    assert len({s for f in finishes for s in f}) == 1
    assert await locks(maker) == {}

    # Nothing pending, or a refused claimer: two statements (the runs, the claimer).
    runs = await run_slots(maker, [*ids[:3], new_id()])
    with captured(pg_engine) as nothing:
        assert {r.outcome for r in await claim_runs(maker, runs)} == {ClaimOutcome.ALREADY_HANDLED}
    with captured(pg_engine) as refused:
        assert {r.outcome for r in await claim_runs(maker, runs[:3], instance=dead)} == {ClaimOutcome.REFUSED}
    assert (len(nothing), len(refused)) == (2, 2)
