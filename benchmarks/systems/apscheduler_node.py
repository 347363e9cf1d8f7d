"""One APScheduler 4 process (bench venv): `python -m benchmarks.systems.apscheduler_node DB_URL`.

AsyncScheduler with the SQLAlchemy data store on PostgreSQL (asyncpg) and the asyncpg event broker, running as
scheduler and worker both; several such processes share the store. The task records the fire time the
scheduler assigned to the job (`scheduled_fire_time`)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from apscheduler import AsyncScheduler, current_job
from apscheduler.datastores.sqlalchemy import SQLAlchemyDataStore
from apscheduler.eventbrokers.asyncpg import AsyncpgEventBroker
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.recorder import record_start


async def record(job_id: int) -> None:
    fire_time = current_job.get().scheduled_fire_time
    assert fire_time is not None
    record_start(job_id, fire_time.timestamp())


def scheduler_for(url: str, identity: str | None = None) -> AsyncScheduler:
    engine = create_async_engine(url, pool_size=10)
    data_store = SQLAlchemyDataStore(engine)
    event_broker = AsyncpgEventBroker.from_async_sqla_engine(engine)
    if identity is None:
        return AsyncScheduler(data_store, event_broker)
    return AsyncScheduler(data_store, event_broker, identity=identity)


async def main(url: str) -> None:
    async with scheduler_for(url, identity=f"bench-{os.getpid()}") as scheduler:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(scheduler.stop()))
        print("apscheduler ready", flush=True)
        await scheduler.run_until_stopped()
    print("apscheduler stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
