"""The limit pipeline's processes (bench venv): the cheapest correct thing the hardware can do.

    publisher JOBS_JSON   keeps every job's next slot in a heap; at each slot publishes {job, slot} as a
                          persistent message with publisher confirms (confirms awaited off the hot path)
    consumer              prefetches, and per message: INSERT the run row (UNIQUE(job_id, slot): a
                          redelivery inserts nothing and is only acked), run the task, UPDATE the row, ack

No schedule maths beyond first + k * period, no outbox, no misfire handling: it only shows what publishing,
consuming and two statements per run cost on this machine."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiormq
import asyncpg
from pamqp.commands import Basic

from benchmarks.recorder import record_start

QUEUE = os.environ.get("BENCH_LIMIT_QUEUE", "bench.limit")
AMQP_URL = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
DSN = os.environ.get("BENCH_LIMIT_DSN", "")
PREFETCH = 64
DB_WORKERS = 8  # connections per consumer: runs overlap their commits (each waits for a WAL flush)

# Created by the harness before the consumers start.
SCHEMA = """
CREATE TABLE run (
    id bigserial PRIMARY KEY,
    job_id integer NOT NULL,
    slot_us bigint NOT NULL,
    status smallint NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    UNIQUE (job_id, slot_us)
)
"""


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def publisher(jobs: list[list[float]]) -> None:
    stop = _stop_event()
    heap = [(float(first), int(job_id), int(period)) for job_id, first, period in jobs]
    heapq.heapify(heap)
    connection = await aiormq.connect(AMQP_URL)
    channel = await connection.channel(publisher_confirms=True)
    await channel.queue_declare(QUEUE, durable=True)
    pending: set[asyncio.Future[Any]] = set()
    failures = 0

    def confirmed(future: asyncio.Future[Any]) -> None:
        nonlocal failures
        pending.discard(future)
        if future.cancelled() or future.exception() is not None or not isinstance(future.result(), Basic.Ack):
            failures += 1

    print("publisher ready", flush=True)
    properties = aiormq.spec.Basic.Properties(delivery_mode=2)
    while not stop.is_set() and heap:
        now = time.time()
        while heap and heap[0][0] <= now:
            slot, job_id, period = heapq.heappop(heap)
            body = b'{"j":%d,"s":%.6f}' % (job_id, slot)
            future = asyncio.ensure_future(channel.basic_publish(body, routing_key=QUEUE, properties=properties))
            pending.add(future)
            future.add_done_callback(confirmed)
            heapq.heappush(heap, (slot + period, job_id, period))
        delay = heap[0][0] - time.time() if heap else 1.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, delay))
    if pending:
        await asyncio.wait(pending, timeout=5)
    print(f"publisher stopped, {failures} unconfirmed", flush=True)
    await connection.close()


async def consumer() -> None:
    stop = _stop_event()
    pool = await asyncpg.create_pool(DSN, min_size=DB_WORKERS, max_size=DB_WORKERS)
    connection = await aiormq.connect(AMQP_URL)
    channel = await connection.channel()
    await channel.basic_qos(prefetch_count=PREFETCH)
    await channel.queue_declare(QUEUE, durable=True)
    inbox: asyncio.Queue[aiormq.abc.DeliveredMessage] = asyncio.Queue()

    async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
        inbox.put_nowait(message)

    async def work() -> None:
        async with pool.acquire() as db:
            insert = await db.prepare(
                "INSERT INTO run (job_id, slot_us, status, started_at) VALUES ($1, $2, 2, now()) "
                "ON CONFLICT DO NOTHING RETURNING id"
            )
            finish = await db.prepare("UPDATE run SET status = 3, finished_at = now() WHERE id = $1")
            while True:
                message = await inbox.get()
                run = json.loads(message.body)
                job_id, slot = int(run["j"]), float(run["s"])
                run_id = await insert.fetchval(job_id, round(slot * 1_000_000))
                if run_id is not None:  # None: a redelivery of a run already started
                    record_start(job_id, slot)
                    await finish.fetchval(run_id)
                assert message.delivery_tag is not None
                await channel.basic_ack(message.delivery_tag)

    workers = [asyncio.create_task(work()) for _ in range(DB_WORKERS)]
    await channel.basic_consume(QUEUE, on_message, no_ack=False)
    print("consumer ready", flush=True)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([stopped, connection.closing], return_when=asyncio.FIRST_COMPLETED)
    if not stop.is_set():  # the broker went away: exit, so that the harness sees the leg failed
        print("consumer lost its connection", flush=True)
        raise SystemExit(1)
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    await connection.close()
    await pool.close()


def main(argv: list[str]) -> None:
    if argv[0] == "publisher":
        asyncio.run(publisher(json.loads(Path(argv[1]).read_text())))
    elif argv[0] == "consumer":
        asyncio.run(consumer())
    else:
        raise SystemExit(f"unknown role {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
