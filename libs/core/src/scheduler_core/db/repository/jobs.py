"""Jobs: CRUD for the API, and the timekeeper's claim of due jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    func,
    not_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from scheduler_core.db.models import ScheduledJob
from scheduler_core.db.repository.clock import is_postgres
from scheduler_core.db.repository.executions import (
    MARK_PUBLISHED_SQL,
    NewExecution,
    PublishedRun,
    insert_executions,
    published_params,
    record_published,
)
from scheduler_core.db.repository.sqlite import from_instant, sqlite_connection, to_instant
from scheduler_core.db.types import UTCDateTime
from scheduler_core.wakeup import WAKEUP_CHANNEL


class JobNotFound(LookupError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} does not exist")
        self.job_id = job_id


@dataclass(frozen=True, slots=True)
class JobFilters:
    is_enabled: bool | None = None
    job_type_id: int | None = None
    task_function_id: int | None = None
    include_deleted: bool = False


@dataclass(frozen=True, slots=True)
class JobAdvance:
    """A job's new next_run_at, and the slot of the latest run fired for it, if any (becomes last_run_at)."""

    job_id: int
    next_run_at: datetime | None
    last_run_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DueJob:
    """What the timekeeper needs of a due job to plan its runs (a plain snapshot, not an ORM object)."""

    id: int
    job_type_id: int
    interval_seconds: int | None
    interval_minutes: int | None
    interval_hours: int | None
    interval_days: int | None
    cron_expression: str | None
    timezone: str
    next_run_at: datetime | None  # never None from claim_due_jobs
    misfire_grace_time: int
    coalesce: bool
    priority: int


@dataclass(frozen=True, slots=True)
class DueClaim:
    """The database's `now` and the jobs claimed at that instant whose slot is due by `horizon` (now plus the
    look-ahead: next_run_at <= horizon), earliest first."""

    now: datetime
    jobs: list[DueJob]
    horizon: datetime


@dataclass(frozen=True, slots=True)
class PassRecord:
    """What a scheduling pass's write returned."""

    written: list[str]  # execution ids inserted (a slot that already had a row is not among them)
    marked: list[str]  # execution ids whose published_at was set
    earliest: datetime | None  # the soonest next_run_at of any schedulable job, after this pass's advances


_DUE_COLUMNS = (
    ScheduledJob.id,
    ScheduledJob.job_type_id,
    ScheduledJob.interval_seconds,
    ScheduledJob.interval_minutes,
    ScheduledJob.interval_hours,
    ScheduledJob.interval_days,
    ScheduledJob.cron_expression,
    ScheduledJob.timezone,
    ScheduledJob.next_run_at,
    ScheduledJob.misfire_grace_time,
    ScheduledJob.coalesce,
    ScheduledJob.priority,
)


def _schedulable() -> Any:
    # Renders exactly the predicate of ix_scheduled_job_due on each backend ("is_enabled AND ... NOT is_paused"
    # on PostgreSQL, "is_enabled = 1 ... is_paused = 0" on SQLite), so the planner can use that partial index.
    # `IS 1` / `IS true` would not match it: SQLite then scans the whole table on every timekeeper pass.
    return and_(ScheduledJob.is_enabled, ScheduledJob.is_active, not_(ScheduledJob.is_paused))


# The schedulable predicate exactly as ix_scheduled_job_due declares it on PostgreSQL (see _schedulable).
_SCHEDULABLE_SQL = "is_enabled AND is_active AND NOT is_paused"
_DUE_SQL_COLUMNS = ", ".join(f'"{column.key}"' for column in _DUE_COLUMNS)

# The claim and `now` in one round trip. statement_timestamp() is the instant the statement arrived; it is
# stable within the statement (clock_timestamp() is volatile and could not bound the index scan), so the same
# instant decides what is due and is returned to plan the runs. The LEFT JOIN returns one row when nothing is due.
# The claim's horizon: the statement's own instant (one value throughout the statement) plus the look-ahead. A
# stable expression, not a subquery, so that the due index's scan is bounded by it in a generic plan too.
_HORIZON_SQL = "(statement_timestamp() + CAST(:lookahead AS double precision) * interval '1 second')"
_CLAIM_DUE_POSTGRES = text(
    f"""
    WITH due AS (
        SELECT {_DUE_SQL_COLUMNS}
        FROM scheduled_job
        WHERE {_SCHEDULABLE_SQL} AND next_run_at <= {_HORIZON_SQL}
        ORDER BY next_run_at
        LIMIT :limit
        FOR NO KEY UPDATE SKIP LOCKED
    )
    SELECT statement_timestamp() AS claimed_at, {_HORIZON_SQL} AS horizon, due.*
    FROM (VALUES (0)) AS one (x) LEFT JOIN due ON true
    """
).columns(
    claimed_at=UTCDateTime(),
    horizon=UTCDateTime(),
    id=Integer(),
    job_type_id=Integer(),
    interval_seconds=Integer(),
    interval_minutes=Integer(),
    interval_hours=Integer(),
    interval_days=Integer(),
    cron_expression=String(),
    timezone=String(),
    next_run_at=UTCDateTime(),
    misfire_grace_time=Integer(),
    coalesce=Boolean(),
    priority=Integer(),
)

# A pass's whole write in one statement: the previous passes' broker confirmations, the new execution rows,
# the claimed jobs' advances, and the soonest next_run_at afterwards. The CTEs and the final SELECT share one
# snapshot that does not see the CTEs' own changes, so the claimed jobs' new slots come from `advanced` and
# their old rows are left out of the scan of the rest (an ordered scan of ix_scheduled_job_due that passes
# over at most the claimed rows, each checked against a hashed set). Arrays, not VALUES lists: one prepared
# statement whatever the batch size, and no bound-parameter limit.
_RECORD_PASS_POSTGRES = text(
    f"""
    WITH marked AS ({MARK_PUBLISHED_SQL}),
    inserted AS (
        INSERT INTO scheduled_job_execution (
            execution_id, job_id, scheduled_at, status_id, trigger, coalesced_count, coalesced_from,
            error_message, completed_at
        )
        SELECT * FROM unnest(
            CAST(:execution_ids AS varchar[]), CAST(:job_ids AS integer[]), CAST(:slots AS timestamptz[]),
            CAST(:statuses AS integer[]), CAST(:triggers AS varchar[]), CAST(:coalesced_counts AS integer[]),
            CAST(:coalesced_froms AS timestamptz[]), CAST(:errors AS text[]), CAST(:completed AS timestamptz[])
        )
        ON CONFLICT (job_id, scheduled_at) DO NOTHING
        RETURNING execution_id
    ),
    advanced AS (
        UPDATE scheduled_job AS j
        SET next_run_at = a.next_run_at, last_run_at = COALESCE(a.last_run_at, j.last_run_at)
        FROM unnest(
            CAST(:advanced_ids AS integer[]), CAST(:next_runs AS timestamptz[]), CAST(:last_runs AS timestamptz[])
        ) AS a(id, next_run_at, last_run_at)
        WHERE j.id = a.id
        RETURNING j.next_run_at
    )
    SELECT
        ARRAY(SELECT execution_id FROM inserted) AS written,
        ARRAY(SELECT execution_id FROM marked) AS marked,
        LEAST(
            (SELECT min(next_run_at) FROM advanced),
            (SELECT min(next_run_at) FROM scheduled_job
             WHERE {_SCHEDULABLE_SQL} AND id NOT IN (SELECT unnest(CAST(:advanced_ids AS integer[]))))
        ) AS earliest
    """
).columns(earliest=UTCDateTime())


# --- SQLite (embedded mode): claim_due_jobs, advance_jobs and earliest_next_run_at as plain statements on the
# transaction's sqlite3 connection (see repository/sqlite.py for why); record_pass on SQLite is those calls.
# One writer at a time (BEGIN IMMEDIATE): nothing to skip or lock.
_CLAIM_DUE_SQLITE = f"""
    SELECT {_DUE_SQL_COLUMNS}
    FROM scheduled_job
    WHERE is_enabled = 1 AND is_active = 1 AND is_paused = 0 AND next_run_at <= ?
    ORDER BY next_run_at
    LIMIT ?
"""
_ADVANCE_SQLITE = "UPDATE scheduled_job SET next_run_at = ?, last_run_at = COALESCE(?, last_run_at) WHERE id = ?"
_EARLIEST_SQLITE = "SELECT min(next_run_at) FROM scheduled_job WHERE is_enabled = 1 AND is_active = 1 AND is_paused = 0"


def _due_job_sqlite(row: Sequence[Any]) -> DueJob:
    """A _CLAIM_DUE_SQLITE row (the _DUE_COLUMNS, in DueJob's order), its instant and flag converted."""
    job_id, job_type_id, seconds, minutes, hours, days, cron, timezone, next_run_at, grace, coalesce, priority = row
    return DueJob(
        job_id, job_type_id, seconds, minutes, hours, days, cron, timezone,
        from_instant(next_run_at), grace, bool(coalesce), priority,
    )  # fmt: skip


class JobRepository:
    # --- reference methods ------------------------------------------------------------------------

    async def create_job(self, session: AsyncSession, job_data: Mapping[str, Any]) -> ScheduledJob:
        job = ScheduledJob(**job_data)
        session.add(job)
        await session.flush()
        return await self._reload(session, job.id)

    async def get_job_by_id(
        self, session: AsyncSession, job_id: int, *, include_deleted: bool = False
    ) -> ScheduledJob | None:
        query = self._with_lookups(select(ScheduledJob)).where(ScheduledJob.id == job_id)
        if not include_deleted:
            query = query.where(ScheduledJob.is_active.is_(True))
        return (await session.execute(query)).scalar_one_or_none()

    async def get_jobs(
        self, session: AsyncSession, filters: JobFilters, page: int, per_page: int
    ) -> tuple[list[ScheduledJob], int]:
        conditions: list[ColumnElement[bool]] = []
        if not filters.include_deleted:
            conditions.append(ScheduledJob.is_active.is_(True))
        if filters.is_enabled is not None:
            conditions.append(ScheduledJob.is_enabled.is_(filters.is_enabled))
        if filters.job_type_id is not None:
            conditions.append(ScheduledJob.job_type_id == filters.job_type_id)
        if filters.task_function_id is not None:
            conditions.append(ScheduledJob.task_function_id == filters.task_function_id)
        total = (await session.execute(select(func.count()).select_from(ScheduledJob).where(*conditions))).scalar_one()
        query = (
            self._with_lookups(select(ScheduledJob))
            .where(*conditions)
            .order_by(ScheduledJob.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return list((await session.execute(query)).scalars().all()), total

    async def update_job(self, session: AsyncSession, job_id: int, update_data: Mapping[str, Any]) -> ScheduledJob:
        if update_data:
            result = await session.execute(
                update(ScheduledJob)
                .where(ScheduledJob.id == job_id, ScheduledJob.is_active.is_(True))
                .values(**update_data, updated_at=func.now())
                .returning(ScheduledJob.id)
            )
            if result.scalar_one_or_none() is None:
                raise JobNotFound(job_id)
        return await self._reload(session, job_id)

    async def soft_delete_job(self, session: AsyncSession, job_id: int) -> ScheduledJob:
        return await self.update_job(session, job_id, {"is_active": False, "next_run_at": None})

    # --- what the service and timekeeper need ------------------------------------------------------

    async def lock_job(self, session: AsyncSession, job_id: int) -> ScheduledJob | None:
        """The active job, row-locked until the transaction ends (serialises actions on one job)."""
        query = (
            self._with_lookups(select(ScheduledJob))
            .where(ScheduledJob.id == job_id, ScheduledJob.is_active.is_(True))
            .with_for_update(of=ScheduledJob)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def claim_due_jobs(self, session: AsyncSession, due_by: datetime, limit: int) -> list[DueJob]:
        """Schedulable jobs whose next_run_at <= due_by, earliest first, row-locked with SKIP LOCKED so that
        concurrent timekeepers each take a disjoint batch instead of waiting on one another."""
        if not is_postgres(session):
            connection = await sqlite_connection(session)
            found = connection.execute(_CLAIM_DUE_SQLITE, (to_instant(due_by), limit))
            return [_due_job_sqlite(row) for row in found]
        query = (
            select(*_DUE_COLUMNS)
            .where(_schedulable(), ScheduledJob.next_run_at <= due_by)
            .order_by(ScheduledJob.next_run_at)
            .limit(limit)
        )
        if is_postgres(session):
            # NO KEY UPDATE: only next_run_at/last_run_at change, so executors claiming earlier runs of these
            # jobs (KEY SHARE, see runs.py) neither wait for this pass nor make it skip their jobs.
            query = query.with_for_update(skip_locked=True, key_share=True)
        rows = (await session.execute(query)).all()
        return [DueJob(**row._asdict()) for row in rows]

    async def claim_due(self, session: AsyncSession, limit: int, lookahead: float = 0.0) -> DueClaim:
        """claim_due_jobs at the database's current instant, returned with the jobs (one round trip on
        PostgreSQL). A job is claimed once its slot is at most `lookahead` seconds away: next_run_at <= the
        returned now + lookahead (the returned horizon)."""
        if not is_postgres(session):
            now = datetime.now(UTC)  # SQLite runs in this process: its clock is this host's (see db_now)
            horizon = now + timedelta(seconds=lookahead)
            return DueClaim(now, await self.claim_due_jobs(session, horizon, limit), horizon)
        rows = (await session.execute(_CLAIM_DUE_POSTGRES, {"limit": limit, "lookahead": lookahead})).all()
        now, horizon = rows[0].claimed_at, rows[0].horizon
        assert isinstance(now, datetime)
        assert isinstance(horizon, datetime)
        jobs = [
            DueJob(**{key: value for key, value in row._asdict().items() if key not in ("claimed_at", "horizon")})
            for row in rows
            if row.id is not None  # the one row of an empty claim carries only claimed_at and horizon
        ]
        return DueClaim(now, jobs, horizon)

    async def record_pass(
        self,
        session: AsyncSession,
        rows: Sequence[NewExecution],
        advances: Sequence[JobAdvance],
        published: Sequence[PublishedRun] = (),
    ) -> PassRecord:
        """A scheduling pass's writes, in the transaction of its claim_due: insert `rows` (as create_executions:
        a slot that already has a row is skipped), apply `advances` (as advance_jobs), set published_at of
        `published` (as record_published: on PostgreSQL, rows locked by someone else right now are skipped and
        missing from `marked`), then read the soonest next_run_at (as earliest_next_run_at). One statement on
        PostgreSQL."""
        if not is_postgres(session):
            marked = await record_published(session, published)
            written = await insert_executions(session, rows)
            await self.advance_jobs(session, advances)
            return PassRecord(written, marked, await self.earliest_next_run_at(session))
        params: dict[str, Any] = {
            **published_params(published),
            "execution_ids": [r.execution_id for r in rows],
            "job_ids": [r.job_id for r in rows],
            "slots": [r.scheduled_at for r in rows],
            "statuses": [int(r.status_id) for r in rows],
            "triggers": [r.trigger for r in rows],
            "coalesced_counts": [r.coalesced_count for r in rows],
            "coalesced_froms": [r.coalesced_from for r in rows],
            "errors": [r.error_message for r in rows],
            "completed": [r.completed_at for r in rows],
            "advanced_ids": [a.job_id for a in advances],
            "next_runs": [a.next_run_at for a in advances],
            "last_runs": [a.last_run_at for a in advances],
        }
        row = (await session.execute(_RECORD_PASS_POSTGRES, params)).one()
        return PassRecord(list(row.written), list(row.marked), row.earliest)

    async def advance_jobs(self, session: AsyncSession, advances: Sequence[JobAdvance]) -> None:
        """Set next_run_at (and last_run_at where a run was fired) of many jobs in one executemany round trip."""
        if not advances:
            return
        if not is_postgres(session):
            values = [(to_instant(a.next_run_at), to_instant(a.last_run_at), a.job_id) for a in advances]
            (await sqlite_connection(session)).executemany(_ADVANCE_SQLITE, values)
            return
        table = ScheduledJob.__table__
        statement = (
            update(table)  # type: ignore[arg-type]
            .where(table.c.id == bindparam("b_job_id"))
            .values(
                next_run_at=bindparam("b_next_run_at"),
                last_run_at=func.coalesce(bindparam("b_last_run_at", type_=UTCDateTime()), table.c.last_run_at),
            )
        )
        await session.execute(
            statement,
            [{"b_job_id": a.job_id, "b_next_run_at": a.next_run_at, "b_last_run_at": a.last_run_at} for a in advances],
        )

    async def claim_unscheduled_jobs(self, session: AsyncSession, limit: int) -> list[DueJob]:
        """Schedulable jobs with no next_run_at yet (seeded by a migration, or written around the API),
        row-locked with SKIP LOCKED; the caller sets their first slot."""
        query = (
            select(*_DUE_COLUMNS)
            .where(_schedulable(), ScheduledJob.next_run_at.is_(None))
            .order_by(ScheduledJob.id)
            .limit(limit)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        return [DueJob(**row._asdict()) for row in (await session.execute(query)).all()]

    async def earliest_next_run_at(self, session: AsyncSession) -> datetime | None:
        """The soonest slot of any schedulable job: how long a timekeeper may sleep."""
        if not is_postgres(session):
            earliest: str | None = (await sqlite_connection(session)).execute(_EARLIEST_SQLITE).fetchone()[0]
            return from_instant(earliest)
        query = select(func.min(ScheduledJob.next_run_at)).where(_schedulable())
        value = (await session.execute(query)).scalar_one_or_none()
        return value if isinstance(value, datetime) or value is None else None

    async def set_last_run_at(self, session: AsyncSession, job_id: int, at: datetime) -> None:
        await session.execute(
            update(ScheduledJob)
            .where(ScheduledJob.id == job_id)
            .values(last_run_at=at)
            .execution_options(synchronize_session=False)
        )

    async def notify_schedule_changed(self, session: AsyncSession) -> None:
        """Wake the timekeepers of other processes when this transaction commits (PostgreSQL NOTIFY is
        transactional). SQLite has no cross-process notification; embedded mode wakes in-process instead."""
        if is_postgres(session):
            await session.execute(select(func.pg_notify(WAKEUP_CHANNEL, "")))

    async def count_jobs(self, session: AsyncSession) -> tuple[int, int]:
        """(active jobs, of which enabled)."""
        query = select(func.count(), func.count().filter(ScheduledJob.is_enabled.is_(True))).where(
            ScheduledJob.is_active.is_(True)
        )
        total, enabled = (await session.execute(query)).one()
        return int(total), int(enabled)

    async def primary_job_for_task(self, session: AsyncSession, task_function_id: int) -> ScheduledJob | None:
        query = self._with_lookups(select(ScheduledJob)).where(
            ScheduledJob.task_function_id == task_function_id,
            ScheduledJob.is_primary.is_(True),
            ScheduledJob.is_active.is_(True),
        )
        return (await session.execute(query.limit(1))).scalar_one_or_none()

    # --- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _with_lookups(query: Select[ScheduledJob]) -> Select[ScheduledJob]:
        return query.options(joinedload(ScheduledJob.task_function), joinedload(ScheduledJob.job_type))

    async def _reload(self, session: AsyncSession, job_id: int) -> ScheduledJob:
        query = (
            self._with_lookups(select(ScheduledJob))
            .where(ScheduledJob.id == job_id)
            .execution_options(populate_existing=True)
        )
        job = (await session.execute(query)).scalar_one_or_none()
        if job is None:
            raise JobNotFound(job_id)
        return job
