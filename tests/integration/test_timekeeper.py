"""The timekeeper's cycle on PostgreSQL and SQLite with the in-process broker: what one transaction per cycle,
deferred broker confirmations and the minimum cycle must not change.

The service runs in this process against the real database. The broker is the real in-process one, with
its publish calls recorded (and, for the relay test, the first one refused) to see what went out when."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler_core.broker import BrokerUnavailable, InMemoryBroker, RunMessage
from scheduler_core.observability.metrics import Metrics
from scheduler_core.store import NewExecution, PublishedRun
from scheduler_core.store.engine import create_sessionmaker
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution
from scheduler_core.wakeup import LocalWakeup
from scheduler_timekeeper.outbox import OutboxRelay
from scheduler_timekeeper.scheduling import DbClock, PassResult
from scheduler_timekeeper.service import TimekeeperConfig, TimekeeperService
from tests.support.cluster import eventually
from tests.support.configs import timekeeper_config
from tests.support.factories import interval_job, new_id
from tests.support.stores import store_of, store_of_maker

Maker = async_sessionmaker[AsyncSession]

# Short delays so that a relay, if it were going to republish something, does so within the test.
CONFIG = timekeeper_config(
    timekeeper_batch_size=200, timekeeper_max_sleep=0.5, outbox_delay=0.4, sweep_interval=0.2, instance_timeout=30
)
# SQLite's created_at (CURRENT_TIMESTAMP) has whole seconds: a row looks up to 1 s older to the relay there.
SQLITE_CREATED_AT_RESOLUTION_S = 1.0


def config_for(sessionmaker: Maker, config: TimekeeperConfig = CONFIG) -> TimekeeperConfig:
    if _is_sqlite(sessionmaker):
        return replace(config, outbox_delay=config.outbox_delay + SQLITE_CREATED_AT_RESOLUTION_S)
    return config


def _is_sqlite(sessionmaker: Maker) -> bool:
    bind = sessionmaker.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return bind.dialect.name == "sqlite"


@dataclass
class Published:
    monotonic: float
    messages: tuple[RunMessage, ...]


class RecordingBroker(InMemoryBroker):
    """The in-process broker, recording each confirmed publish; refuses the first `refuse` publishes."""

    def __init__(self, refuse: int = 0) -> None:
        super().__init__()
        self.refuse = refuse
        self.refused: list[Published] = []
        self.confirmed: list[Published] = []

    async def publish(self, messages: Sequence[RunMessage]) -> None:
        if self.refuse > 0:
            self.refuse -= 1
            self.refused.append(Published(time.monotonic(), tuple(messages)))
            raise BrokerUnavailable("refused by the test")
        await super().publish(messages)
        self.confirmed.append(Published(time.monotonic(), tuple(messages)))

    def confirmed_ids(self) -> Counter[str]:
        return Counter(m.execution_id for p in self.confirmed for m in p.messages)


@dataclass
class PassLog:
    """Every pass of a service: when it started (monotonic) and what it returned."""

    passes: list[tuple[float, PassResult]] = field(default_factory=list)

    def with_jobs(self) -> list[tuple[float, PassResult]]:
        return [(started, result) for started, result in self.passes if result.jobs]


@asynccontextmanager
async def running(
    sessionmaker: Maker, broker: RecordingBroker, config: TimekeeperConfig = CONFIG
) -> AsyncIterator[PassLog]:
    """A timekeeper service running until the block ends, its passes logged."""
    service = TimekeeperService(
        sessionmaker,
        store_of_maker(sessionmaker),
        broker,
        LocalWakeup(),
        Metrics(),
        config_for(sessionmaker, config),
        is_live=lambda: True,  # no instance of its own: these tests are about passes and the relay
    )
    log = PassLog()
    run_once = service.scheduling.run_once

    async def logged(published: Sequence[PublishedRun] = ()) -> PassResult:
        started = time.monotonic()
        result = await run_once(published)
        log.passes.append((started, result))
        return result

    service.scheduling.run_once = logged  # type: ignore[method-assign]
    stop = asyncio.Event()
    async with broker:
        task = asyncio.create_task(service.run(stop))
        try:
            yield log
        finally:
            stop.set()
            await task


async def _now(sessionmaker: Maker) -> datetime:
    async with sessionmaker() as session:
        return await store_of(session).clock.now(session)


async def _executions(sessionmaker: Maker) -> list[ScheduledJobExecution]:
    async with sessionmaker() as session:
        query = select(ScheduledJobExecution).order_by(ScheduledJobExecution.scheduled_at)
        return list((await session.execute(query)).scalars().all())


async def _published(broker: RecordingBroker, count: int) -> bool | None:
    """True once the broker confirmed `count` distinct runs (an `eventually` probe)."""
    return True if len(broker.confirmed_ids()) >= count else None


async def _jobs_at(sessionmaker: Maker, slots: Sequence[datetime], seconds: int = 1) -> list[int]:
    async with sessionmaker.begin() as session:
        return [(await interval_job(session, next_run_at=slot, seconds=seconds)).id for slot in slots]


async def test_confirmed_runs_are_marked_and_never_relayed(sessionmaker: Maker) -> None:
    """Slots 20 ms apart: the confirmations ride on the next pass, and the last of each second's are written
    before the idle sleep. The relay, running every 0.2 s for runs unconfirmed after 0.4 s (1.4 s on SQLite),
    finds none."""
    start = (await _now(sessionmaker)) + timedelta(milliseconds=300)
    await _jobs_at(sessionmaker, [start + timedelta(milliseconds=20 * i) for i in range(20)])
    broker = RecordingBroker()
    async with running(sessionmaker, broker):
        # Three seconds' slots published (at 0.3, 1.3 and 2.3 s): by then the first ones are older than the outbox
        # delay plus a relay interval (1.6 s on SQLite), so a relay taking confirmed runs for lost ones would have.
        await eventually(lambda: _published(broker, 60), 30, "60 runs published")
    rows = await _executions(sessionmaker)

    assert len(rows) >= 40
    assert [r.execution_id for r in rows if r.published_at is None] == []
    published = broker.confirmed_ids()
    assert set(published) == {r.execution_id for r in rows}
    assert max(published.values()) == 1, "a confirmed run was published again"
    for row in rows:
        assert row.published_at is not None
        assert row.published_at >= row.scheduled_at - timedelta(seconds=CONFIG.lookahead)


async def test_a_run_whose_publish_was_not_confirmed_is_relayed_after_the_outbox_delay(
    sessionmaker: Maker,
) -> None:
    now = await _now(sessionmaker)
    (job_id,) = await _jobs_at(sessionmaker, [now + timedelta(milliseconds=200)], seconds=3600)
    broker = RecordingBroker(refuse=1)
    async with running(sessionmaker, broker):
        deadline = time.monotonic() + 10
        while not broker.confirmed:
            assert time.monotonic() < deadline, "the relay never published the refused run"
            await asyncio.sleep(0.05)
    rows = await _executions(sessionmaker)

    assert [m.job_id for p in broker.refused for m in p.messages] == [job_id]
    (refused,) = broker.refused
    (relayed,) = broker.confirmed
    assert [m.execution_id for m in relayed.messages] == [m.execution_id for m in refused.messages]
    early = SQLITE_CREATED_AT_RESOLUTION_S if _is_sqlite(sessionmaker) else 0.05
    assert relayed.monotonic - refused.monotonic >= config_for(sessionmaker).outbox_delay - early
    # Once the relay's publish was confirmed, the run left the outbox.
    assert [(r.execution_id, r.published_at is not None) for r in rows] == [(relayed.messages[0].execution_id, True)]


async def test_slots_due_within_the_minimum_cycle_are_written_by_one_pass(sessionmaker: Maker) -> None:
    """Ten slots 2 ms apart and a 100 ms minimum cycle: a pass takes the first (and whatever else is due by
    then), the next pass (100 ms after the first began) takes all the others; none is taken before it is due."""
    config = replace(CONFIG, min_cycle=0.1, max_sleep=5.0, sweep_interval=5.0)
    start = (await _now(sessionmaker)) + timedelta(milliseconds=400)
    slots = [start + timedelta(milliseconds=2 * i) for i in range(10)]
    await _jobs_at(sessionmaker, slots, seconds=3600)
    broker = RecordingBroker()
    async with running(sessionmaker, broker, config) as log:
        await eventually(lambda: _published(broker, len(slots)), 30, f"{len(slots)} runs published")
    rows = await _executions(sessionmaker)

    assert [r.scheduled_at for r in rows] == slots
    working = log.with_jobs()
    assert sum(result.jobs for _, result in working) == 10
    assert len(working) <= 2, [result.jobs for _, result in working]
    if len(working) == 2:  # one pass if the first came late enough to find every slot due
        (first_started, _), (second_started, _) = working
        assert second_started - first_started >= config.min_cycle - 0.002
    for _, result in log.passes:
        assert result.horizon == result.clock.now + timedelta(seconds=config.lookahead)
        assert all(m.scheduled_at <= result.horizon for m in result.to_publish), "a run was claimed early"


@pytest.mark.parametrize("lookahead", [0.0, 0.1])
async def test_nothing_is_claimed_or_published_more_than_the_lookahead_before_its_slot(
    sessionmaker: Maker, lookahead: float
) -> None:
    """Sixty slots 3 ms apart with the default minimum cycle: every pass claims only what is due by its own
    database instant plus the look-ahead (none: due at that instant), the runs go out after that, and every
    slot is written exactly once."""
    config = replace(CONFIG, max_sleep=5.0, sweep_interval=5.0, lookahead=lookahead)
    ahead = timedelta(seconds=lookahead)
    start = (await _now(sessionmaker)) + timedelta(milliseconds=400)
    slots = [start + timedelta(milliseconds=3 * i) for i in range(60)]
    await _jobs_at(sessionmaker, slots, seconds=3600)
    broker = RecordingBroker()
    async with running(sessionmaker, broker, config) as log:
        await eventually(lambda: _published(broker, len(slots)), 30, f"{len(slots)} runs published")
    rows = await _executions(sessionmaker)

    assert [r.scheduled_at for r in rows] == slots
    assert max(broker.confirmed_ids().values()) == 1
    claimed_at: dict[str, datetime] = {}
    for _, result in log.passes:
        assert result.horizon == result.clock.now + ahead
        for message in result.to_publish:
            assert message.scheduled_at <= result.horizon, "a run was claimed more than the look-ahead early"
            claimed_at[message.execution_id] = result.clock.now
    assert set(claimed_at) == {r.execution_id for r in rows}
    # Published after its pass claimed it (the database's instant, carried over to the publish).
    for row in rows:
        assert row.published_at is not None
        assert row.published_at >= claimed_at[row.execution_id] >= row.scheduled_at - ahead
    working = log.with_jobs()
    assert len(working) < len(slots), "one pass per slot: the minimum cycle did not batch anything"
    for (earlier, _), (later, _) in itertools.pairwise(working):
        assert later - earlier >= config.min_cycle - 0.002


async def test_confirmations_mark_only_runs_still_pending_without_waiting_for_executors(
    pg_engine: AsyncEngine,
) -> None:
    """A run an executor is claiming right now (its row locked) or has claimed needs no mark: the write skips
    it without waiting and does not keep it; a run still pending is marked with its confirmation instant."""
    sessionmaker = create_sessionmaker(pg_engine)
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        held, claimed, free = new_id(), new_id(), new_id()
        await store_of(session).outbox.add(
            session,
            [NewExecution(eid, job.id, now + timedelta(seconds=i)) for i, eid in enumerate((held, claimed, free))],
        )
        await session.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id == claimed)
            .values(status_id=ExecutionStatus.RUNNING)
        )
    broker = RecordingBroker()
    relay = OutboxRelay(sessionmaker, store_of_maker(sessionmaker), broker, Metrics(), outbox_delay=5.0, batch_size=100)
    async with broker:
        messages = [
            RunMessage(eid, job.id, now + timedelta(seconds=i), 0) for i, eid in enumerate((held, claimed, free))
        ]
        assert await relay.publish(messages, DbClock(now, time.monotonic()))
    assert relay.pending_confirmations == 3

    async with sessionmaker.begin() as executor:
        await executor.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id == held)
            .values(status_id=ExecutionStatus.RUNNING)
        )
        await asyncio.wait_for(relay.flush_confirmed(), timeout=5)
        assert relay.pending_confirmations == 0
    marked = {r.execution_id: r.published_at for r in await _executions(sessionmaker)}
    free_at = marked[free]
    assert free_at is not None
    assert free_at >= now
    assert (marked[held], marked[claimed]) == (None, None)


async def test_a_pass_writes_only_confirmations_older_than_the_mark_delay(pg_engine: AsyncEngine) -> None:
    sessionmaker = create_sessionmaker(pg_engine)
    now = await _now(sessionmaker)
    async with sessionmaker.begin() as session:
        job = await interval_job(session, next_run_at=None)
        old, young = new_id(), new_id()
        await store_of(session).outbox.add(
            session, [NewExecution(old, job.id, now), NewExecution(young, job.id, now + timedelta(seconds=1))]
        )
    broker = RecordingBroker()
    relay = OutboxRelay(sessionmaker, store_of_maker(sessionmaker), broker, Metrics(), outbox_delay=5.0, batch_size=100)
    assert relay.mark_delay == 1.0
    async with broker:
        assert await relay.publish([RunMessage(old, job.id, now, 0)], DbClock(now, time.monotonic()))
        split = time.monotonic()
        assert await relay.publish([RunMessage(young, job.id, now, 0)], DbClock(now, time.monotonic()))
    assert [run.execution_id for run in relay.take_confirmed(confirmed_before=split)] == [old]
    relay.confirmed_written()
    assert relay.pending_confirmations == 1
    assert (
        OutboxRelay(
            sessionmaker, store_of_maker(sessionmaker), broker, Metrics(), outbox_delay=1.0, batch_size=100
        ).mark_delay
        == 0.5
    )
