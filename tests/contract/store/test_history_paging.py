"""History pages (HistoryStore.page), on PostgreSQL and on SQLite: slot order, every filter and their
combinations, keyset paging that stays exact while runs are written between pages, page-number paging, and the
total with its estimate flag. Seeded randomized histories, each checked against the same rows filtered and sorted
in Python."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler_core.store import ExecutionFilters, HistoryPage, NewExecution, SlotPosition, Store
from scheduler_core.store.history import EXACT_COUNT_LIMIT
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution, Trigger
from tests.contract.store.support import Maker
from tests.support.factories import interval_job, new_id

BASE = datetime(2031, 3, 1, tzinfo=UTC)
TRIGGERS = (Trigger.SCHEDULE, Trigger.MANUAL, Trigger.BACKFILL)
# Runs are a few minutes apart at most, so that slots collide across jobs and the id decides their order.
SLOTS = 40


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    execution_id: str
    job_id: int
    status_id: int
    trigger: str
    scheduled_at: datetime

    @property
    def position(self) -> SlotPosition:
        return SlotPosition(self.scheduled_at, self.id)


async def make_jobs(sessionmaker: Maker, count: int) -> list[int]:
    async with sessionmaker.begin() as session:
        return [(await interval_job(session, next_run_at=None)).id for _ in range(count)]


async def write_random_runs(store: Store, sessionmaker: Maker, rng: random.Random, jobs: list[int], n: int) -> None:
    """n random runs (fewer if slots collide: a slot's run is written once), mostly scheduled and successful."""
    rows = [
        NewExecution(
            new_id(),
            rng.choice(jobs),
            BASE + timedelta(minutes=rng.randrange(SLOTS)),
            status_id=rng.choice([*ExecutionStatus, ExecutionStatus.SUCCESS, ExecutionStatus.SUCCESS]),
            trigger=rng.choices(TRIGGERS, weights=(8, 1, 1))[0],
        )
        for _ in range(n)
    ]
    async with sessionmaker.begin() as session:
        await store.outbox.add(session, rows)


async def table(sessionmaker: Maker) -> dict[int, Row]:
    """Every run as the table holds it, by id."""
    e = ScheduledJobExecution
    query = select(e.id, e.execution_id, e.job_id, e.status_id, e.trigger, e.scheduled_at)
    async with sessionmaker() as session:
        return {row.id: Row(*row) for row in (await session.execute(query)).all()}


def matcher(filters: ExecutionFilters) -> Callable[[Row], bool]:
    def matches(row: Row) -> bool:
        return (
            (filters.job_id is None or row.job_id == filters.job_id)
            and (filters.status_id is None or row.status_id == filters.status_id)
            and (filters.trigger is None or row.trigger == filters.trigger)
            and (filters.scheduled_from is None or row.scheduled_at >= filters.scheduled_from)
            and (filters.scheduled_to is None or row.scheduled_at < filters.scheduled_to)
        )

    return matches


def expected(rows: dict[int, Row], filters: ExecutionFilters) -> list[int]:
    """Ids of the matching runs in history's order: slot, then id, newest first."""
    matching = filter(matcher(filters), rows.values())
    return [row.id for row in sorted(matching, key=lambda row: (row.scheduled_at, row.id), reverse=True)]


def random_filters(rng: random.Random, jobs: list[int]) -> ExecutionFilters:
    start = BASE + timedelta(minutes=rng.randrange(SLOTS))
    return ExecutionFilters(
        job_id=rng.choice([None, *jobs]),
        status_id=rng.choice([None, None, *ExecutionStatus]),
        trigger=rng.choice([None, None, *TRIGGERS]),
        scheduled_from=rng.choice([None, None, start]),
        scheduled_to=rng.choice([None, None, start + timedelta(minutes=rng.randrange(1, SLOTS))]),
    )


async def page(
    store: Store, sessionmaker: Maker, filters: ExecutionFilters, per_page: int, **where: SlotPosition | int | None
) -> HistoryPage:
    async with sessionmaker() as session:
        return await store.history.page(session, filters, per_page=per_page, **where)  # type: ignore[arg-type]


async def walk(store: Store, sessionmaker: Maker, filters: ExecutionFilters, per_page: int) -> list[int]:
    """Every page by keyset, from the first; checks each page's shape on the way."""
    seen: list[int] = []
    after: SlotPosition | None = None
    while True:
        result = await page(store, sessionmaker, filters, per_page, after=after)
        assert len(result.executions) <= per_page
        seen += [execution.id for execution in result.executions]
        if result.next_after is None:
            return seen
        assert len(result.executions) == per_page  # only a full page says another follows
        last = result.executions[-1]
        assert result.next_after == SlotPosition(last.scheduled_at, last.id)
        after = result.next_after


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_every_filter_and_combination_pages_in_slot_order(store: Store, sessionmaker: Maker, seed: int) -> None:
    rng = random.Random(seed)
    jobs = await make_jobs(sessionmaker, 3)
    await write_random_runs(store, sessionmaker, rng, jobs, 150)
    rows = await table(sessionmaker)
    cases = [
        ExecutionFilters(),
        ExecutionFilters(job_id=jobs[0]),
        ExecutionFilters(status_id=ExecutionStatus.FAILED),
        *(ExecutionFilters(trigger=trigger) for trigger in TRIGGERS),
        ExecutionFilters(scheduled_from=BASE + timedelta(minutes=10)),
        ExecutionFilters(scheduled_to=BASE + timedelta(minutes=10)),
        *(random_filters(rng, jobs) for _ in range(12)),
    ]
    for filters in cases:
        want = expected(rows, filters)
        per_page = rng.randint(1, 12)
        assert await walk(store, sessionmaker, filters, per_page) == want, filters
        # Page-number paging lists the same order; each page knows the exact total (well under the count limit).
        number = rng.randint(1, max(1, -(-len(want) // per_page)))
        result = await page(store, sessionmaker, filters, per_page, offset=(number - 1) * per_page)
        assert [e.id for e in result.executions] == want[(number - 1) * per_page : number * per_page], filters
        assert (result.total, result.total_is_estimate) == (len(want), False), filters
        assert all(e.status.id == e.status_id for e in result.executions)  # loaded with its status


async def test_a_slot_orders_history_not_the_id(store: Store, sessionmaker: Maker) -> None:
    """A backfilled run written last for the oldest slot is listed last; runs of one slot, newest row first."""
    [job, other] = await make_jobs(sessionmaker, 2)
    ids = {}
    for name, job_id, minute, trigger in [
        ("now", job, 10, Trigger.SCHEDULE),
        ("same slot, other job", other, 10, Trigger.SCHEDULE),
        ("backfilled", job, 1, Trigger.BACKFILL),
        ("manual", other, 5, Trigger.MANUAL),
    ]:
        execution_id = new_id()
        async with sessionmaker.begin() as session:
            await store.outbox.add(
                session, [NewExecution(execution_id, job_id, BASE + timedelta(minutes=minute), trigger=trigger)]
            )
        ids[execution_id] = name
    result = await page(store, sessionmaker, ExecutionFilters(), 10)
    assert [ids[e.execution_id] for e in result.executions] == [
        "same slot, other job",
        "now",
        "manual",
        "backfilled",
    ]


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
async def test_keyset_pages_never_repeat_or_skip_a_run_while_runs_are_written(
    store: Store, sessionmaker: Maker, seed: int
) -> None:
    """Between every two page fetches runs are written at random slots: before the cursor, after it, in its own
    slot. The union of the pages holds every run that matched at the first fetch, each once, in order; the only
    others are runs written meanwhile."""
    rng = random.Random(seed)
    jobs = await make_jobs(sessionmaker, 4)
    await write_random_runs(store, sessionmaker, rng, jobs, 120)
    filters = rng.choice([ExecutionFilters(), ExecutionFilters(job_id=jobs[0]), random_filters(rng, jobs)])
    per_page = rng.randint(1, 9)
    before = set(expected(await table(sessionmaker), filters))
    fetched: list[Row] = []
    after: SlotPosition | None = None
    while True:
        result = await page(store, sessionmaker, filters, per_page, after=after)
        now = await table(sessionmaker)
        fetched += [now[e.id] for e in result.executions]
        if result.next_after is None:
            break
        after = result.next_after
        await write_random_runs(store, sessionmaker, rng, jobs, rng.randint(0, 12))
    ids = [row.id for row in fetched]
    assert len(ids) == len(set(ids)), "a run was listed twice"
    assert before <= set(ids), f"runs skipped: {sorted(before - set(ids))}"
    final = set(expected(await table(sessionmaker), filters))
    assert set(ids) <= final, "a listed run does not match the filters"
    positions = [(row.scheduled_at, row.id) for row in fetched]
    assert positions == sorted(positions, reverse=True), "pages out of order"


async def test_an_empty_page_and_the_last_full_page_say_no_page_follows(store: Store, sessionmaker: Maker) -> None:
    [job] = await make_jobs(sessionmaker, 1)
    async with sessionmaker.begin() as session:
        await store.outbox.add(session, [NewExecution(new_id(), job, BASE + timedelta(minutes=i)) for i in range(4)])
    exactly = await page(store, sessionmaker, ExecutionFilters(), 4)
    assert (len(exactly.executions), exactly.next_after, exactly.total) == (4, None, 4)
    beyond = await page(store, sessionmaker, ExecutionFilters(), 4, offset=8)
    assert (beyond.executions, beyond.next_after, beyond.total) == ([], None, 4)
    oldest = exactly.executions[-1]
    past_the_end = await page(
        store, sessionmaker, ExecutionFilters(), 4, after=SlotPosition(oldest.scheduled_at, oldest.id)
    )
    assert (past_the_end.executions, past_the_end.next_after) == ([], None)
    nothing = await page(store, sessionmaker, ExecutionFilters(job_id=job + 1000), 4)
    assert (nothing.executions, nothing.total, nothing.total_is_estimate) == ([], 0, False)


async def test_the_total_is_counted_up_to_the_limit_and_may_be_estimated_past_it(
    store: Store, sessionmaker: Maker, engine: AsyncEngine
) -> None:
    """PostgreSQL estimates a total past EXACT_COUNT_LIMIT (flagged); SQLite counts every row."""
    [job, other] = await make_jobs(sessionmaker, 2)
    many = EXACT_COUNT_LIMIT + 1_500
    rows = [
        NewExecution(new_id(), job, BASE + timedelta(seconds=i), status_id=ExecutionStatus.SUCCESS) for i in range(many)
    ]
    rows += [
        NewExecution(new_id(), other, BASE + timedelta(seconds=i), status_id=ExecutionStatus.FAILED) for i in range(30)
    ]
    async with sessionmaker.begin() as session:
        await store.outbox.add(session, rows)
        await session.execute(text("ANALYZE"))
    everything = await page(store, sessionmaker, ExecutionFilters(), 20)
    successes = await page(store, sessionmaker, ExecutionFilters(status_id=ExecutionStatus.SUCCESS), 20)
    failures = await page(store, sessionmaker, ExecutionFilters(status_id=ExecutionStatus.FAILED), 20)
    estimates = engine.dialect.name == "postgresql"
    for result, exact in [(everything, many + 30), (successes, many)]:
        assert result.total_is_estimate is estimates
        if result.total_is_estimate:  # the planner's figure, from the statistics ANALYZE just gathered
            assert result.total > EXACT_COUNT_LIMIT
            assert abs(result.total - exact) <= exact * 0.1, (result.total, exact)
        else:
            assert result.total == exact
    assert (failures.total, failures.total_is_estimate) == (30, False)  # under the limit: counted
