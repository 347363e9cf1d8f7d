"""The batched limit's processes (bench venv): the limit pipeline with this product's own batching, so that "close to
the limit" compares like with like.

    publisher JOBS_JSON   every pass (at least MIN_CYCLE_S apart) takes every slot due within LOOKAHEAD_S and
                          publishes them RUNS_PER_MESSAGE to a persistent message with publisher confirms (awaited
                          off the hot path) — the product's timekeeper pass, look-ahead and message size
    consumer              prefetches; claims the runs of every message that arrived since its last claim with one
                          multi-row INSERT (UNIQUE(job_id, slot): a redelivered run inserts nothing and is skipped),
                          starts each run's task at its slot, records finished runs with one multi-row UPDATE per
                          FINISH_LINGER_S, and acks a message once all its runs are recorded

Same correctness as the naive limit (each slot once: the unique key, ack after the outcome is written); no
schedule maths beyond first + k * period, no outbox, no leases, no misfire handling."""

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
# The product's defaults (scheduler_core.settings): timekeeper_min_cycle, timekeeper_lookahead, runs per message,
# and the outcome recorder's linger and batch size (scheduler_executor.outcomes).
MIN_CYCLE_S = 0.02
LOOKAHEAD_S = 0.05
RUNS_PER_MESSAGE = 16
# Messages unacked per consumer: the naive limit's 64, not the product's 8, because this pipeline acks a message
# only once its runs are recorded (it has no leases), so each message is held for the look-ahead and the linger.
PREFETCH = 64
FINISH_LINGER_S = 0.02
MAX_BATCH = 200

CLAIM_SQL = """
INSERT INTO run (job_id, slot_us, status, started_at)
SELECT j, s, 2, now() FROM unnest($1::integer[], $2::bigint[]) AS u(j, s)
ON CONFLICT DO NOTHING
RETURNING id, job_id, slot_us
"""
FINISH_SQL = "UPDATE run SET status = 3, finished_at = now() WHERE id = ANY($1::bigint[])"


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
        horizon = time.time() + LOOKAHEAD_S
        due: list[tuple[int, float]] = []
        while heap and heap[0][0] <= horizon:
            slot, job_id, period = heapq.heappop(heap)
            due.append((job_id, slot))
            heapq.heappush(heap, (slot + period, job_id, period))
        for i in range(0, len(due), RUNS_PER_MESSAGE):
            body = json.dumps(due[i : i + RUNS_PER_MESSAGE], separators=(",", ":")).encode()
            future = asyncio.ensure_future(channel.basic_publish(body, routing_key=QUEUE, properties=properties))
            pending.add(future)
            future.add_done_callback(confirmed)
        # A pass that found work waits at least MIN_CYCLE_S for the next (slots closer together share a pass).
        until_next = heap[0][0] - LOOKAHEAD_S - time.time() if heap else 1.0
        delay = max(MIN_CYCLE_S if due else 0.0, until_next)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, delay))
    if pending:
        await asyncio.wait(pending, timeout=5)
    print(f"publisher stopped, {failures} unconfirmed", flush=True)
    await connection.close()


class Delivery:
    """One message: its runs still to be recorded before it is acked."""

    __slots__ = ("open", "tag")

    def __init__(self, tag: int) -> None:
        self.tag = tag
        self.open = 0


async def consumer() -> None:
    stop = _stop_event()
    # Two connections: one claiming, one recording outcomes (each is one transaction at a time, as in the product).
    claim_db = await asyncpg.connect(DSN)
    finish_db = await asyncpg.connect(DSN)
    claim = await claim_db.prepare(CLAIM_SQL)
    finish = await finish_db.prepare(FINISH_SQL)
    connection = await aiormq.connect(AMQP_URL)
    channel = await connection.channel()
    await channel.basic_qos(prefetch_count=PREFETCH)
    await channel.queue_declare(QUEUE, durable=True)
    inbox: asyncio.Queue[aiormq.abc.DeliveredMessage] = asyncio.Queue()
    finished: asyncio.Queue[tuple[int, Delivery]] = asyncio.Queue()
    starting: set[asyncio.Task[None]] = set()

    async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
        inbox.put_nowait(message)

    async def ack(delivery: Delivery) -> None:
        await channel.basic_ack(delivery.tag)

    async def run_at_slot(run_id: int, job_id: int, slot: float, delivery: Delivery) -> None:
        delay = slot - time.time()
        if delay > 0:  # claimed ahead of its slot (the look-ahead): the task starts at the slot
            await asyncio.sleep(delay)
        record_start(job_id, slot)
        finished.put_nowait((run_id, delivery))

    async def claimer() -> None:
        """Claims whatever arrived during the previous claim in one statement (the product's batcher, no timer)."""
        while True:
            messages = [await inbox.get()]
            jobs: list[int] = []
            slots: list[int] = []
            owner: dict[tuple[int, int], Delivery] = {}
            deliveries = []
            while True:
                message = messages[-1]
                assert message.delivery_tag is not None
                delivery = Delivery(message.delivery_tag)
                deliveries.append(delivery)
                for job_id, slot in json.loads(message.body):
                    slot_us = round(slot * 1_000_000)
                    jobs.append(int(job_id))
                    slots.append(slot_us)
                    owner[(int(job_id), slot_us)] = delivery
                if inbox.empty() or len(jobs) >= MAX_BATCH:
                    break
                messages.append(inbox.get_nowait())
            rows = await claim.fetch(jobs, slots)
            for row in rows:
                delivery = owner[(row["job_id"], row["slot_us"])]
                delivery.open += 1
                task = asyncio.create_task(run_at_slot(row["id"], row["job_id"], row["slot_us"] / 1_000_000, delivery))
                starting.add(task)
                task.add_done_callback(starting.discard)
            for delivery in deliveries:
                if delivery.open == 0:  # every run of it was a redelivery of runs already started
                    await ack(delivery)

    async def recorder() -> None:
        """Records finished runs one multi-row UPDATE per FINISH_LINGER_S, then acks the messages they complete."""
        while True:
            batch = [await finished.get()]
            await asyncio.sleep(FINISH_LINGER_S)
            while not finished.empty() and len(batch) < MAX_BATCH:
                batch.append(finished.get_nowait())
            await finish.fetch([run_id for run_id, _ in batch])
            for _, delivery in batch:
                delivery.open -= 1
                if delivery.open == 0:
                    await ack(delivery)

    workers = [asyncio.create_task(claimer()), asyncio.create_task(recorder())]
    await channel.basic_consume(QUEUE, on_message, no_ack=False)
    print("consumer ready", flush=True)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([stopped, connection.closing, *workers], return_when=asyncio.FIRST_COMPLETED)
    if not stop.is_set():  # the broker went away or a worker failed: exit, so that the harness sees the leg failed
        for worker in workers:
            if worker.done() and worker.exception() is not None:
                print(f"consumer worker failed: {worker.exception()!r}", flush=True)
        print("consumer lost its connection", flush=True)
        raise SystemExit(1)
    for task in [*workers, *starting]:
        task.cancel()
    await asyncio.gather(*workers, *starting, return_exceptions=True)
    await connection.close()
    await claim_db.close()
    await finish_db.close()


def main(argv: list[str]) -> None:
    if argv[0] == "publisher":
        asyncio.run(publisher(json.loads(Path(argv[1]).read_text())))
    elif argv[0] == "consumer":
        asyncio.run(consumer())
    else:
        raise SystemExit(f"unknown role {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
