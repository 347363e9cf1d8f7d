"""The executor's fence (scheduler_executor.fencing), without a database or a broker: on runs whose lease was taken,
an async task is cancelled, and a task in a thread, which cancelling cannot stop, stays held so that the watchdog
ends the process; while heartbeats fail, the presence mark is proven even with no run held, so that a run claimed
meanwhile may start."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, cast

from scheduler_core.broker import Presence
from scheduler_core.instance import InstanceHeartbeat
from scheduler_executor.fencing import Fencing

# Seconds, as the fault scenarios set them.
LOCK_TTL = 12.0
INSTANCE_TIMEOUT = 2.0
WATCHDOG = 0.1


def fencing() -> Fencing:
    instance = InstanceHeartbeat(
        cast(Any, None), cast(Any, None), role="executor", mode="standalone", interval=0.5, instance_timeout=2.0
    )
    instance.last_ok_sent = time.monotonic()  # heartbeats succeed: only the lease is at stake
    return Fencing(
        instance, lock_ttl=LOCK_TTL, instance_timeout=INSTANCE_TIMEOUT, watchdog_interval=WATCHDOG, on_breach=print
    )


async def test_a_run_in_a_thread_whose_lease_the_sweep_took_stays_held_for_the_watchdog() -> None:
    fence = fencing()
    release = threading.Event()

    async def in_thread() -> None:
        await asyncio.to_thread(release.wait)

    task = asyncio.create_task(in_thread())
    fence.hold("in-thread", owner="me", claim_sent=time.monotonic(), in_thread=True)
    fence.running("in-thread", task)
    try:
        fence.renewed(["in-thread"], set(), time.monotonic())  # the renewal found its lock gone
        await asyncio.sleep(0.05)
        assert not task.done()  # cancelling would only have stopped the coroutine waiting for the thread
        assert [execution_id for execution_id, _ in fence.breaches(time.monotonic(), WATCHDOG)] == ["in-thread"]
    finally:
        release.set()
        await task


async def test_an_async_run_whose_lease_the_sweep_took_is_cancelled() -> None:
    fence = fencing()
    task = asyncio.create_task(asyncio.sleep(60, None))
    fence.hold("async", owner="me", claim_sent=time.monotonic(), in_thread=False)
    fence.running("async", task)
    fence.renewed(["async"], set(), time.monotonic())
    await asyncio.sleep(0)
    assert task.cancelled()


class Mark(Presence):
    """A presence mark that the broker always confirms."""

    def __init__(self) -> None:
        self.proofs = 0

    @property
    def held_since(self) -> float | None:
        return 0.0  # since before any deadline

    async def prove(self) -> bool:
        self.proofs += 1
        return True

    async def release(self) -> None:
        return None


async def test_heartbeats_failing_with_no_run_held_the_mark_is_still_proven_so_a_run_claimed_meanwhile_may_start() -> (
    None
):
    breaches: list[str] = []
    instance = InstanceHeartbeat(
        cast(Any, None), cast(Any, None), role="executor", mode="standalone", interval=0.5, instance_timeout=2.0
    )
    instance.last_ok_sent = time.monotonic() - 3 * INSTANCE_TIMEOUT  # heartbeats have failed for a while
    fence = Fencing(
        instance,
        lock_ttl=LOCK_TTL,
        instance_timeout=INSTANCE_TIMEOUT,
        watchdog_interval=WATCHDOG,
        on_breach=breaches.append,
    )
    fence.presence = mark = Mark()
    fence.start(watchdog=False)
    try:
        await asyncio.sleep(0.5)
        assert mark.proofs >= 1  # nothing is held, yet the mark is proven
        # The database answers a claim before it answers a heartbeat: the run's first step is gated on the proof.
        fence.hold("claimed", owner="me", claim_sent=time.monotonic(), in_thread=False)
        fence.gate("claimed")
        assert breaches == []
    finally:
        await fence.close()


def test_breaches_finds_each_lease_due_whatever_it_answered_before() -> None:
    """breaches() skips visiting the holds while no lease can end within its margin (it runs 10 times a second
    in each layer, and before each step of task code): a lease that comes due, a new hold's earlier lease, a
    revocation are still found, at instants given, not waited for."""
    fence = fencing()
    base = time.monotonic()
    cast(Any, fence)._instance.last_ok_sent = base + 3600  # heartbeats succeed throughout: only leases are at stake
    fence.hold("a", owner="me", claim_sent=base, in_thread=False)
    fence.hold("b", owner="me", claim_sent=base + 1, in_thread=False)
    assert fence.breaches(base, WATCHDOG) == []
    fence.renewed(["a", "b"], {"a", "b"}, base + 5)  # both leases move on to base + 5 + LOCK_TTL
    fence.renewed(["a"], {"a"}, base + 10)  # a's again, to base + 10 + LOCK_TTL
    assert fence.breaches(base + 5 + LOCK_TTL - 1, 0.5) == []
    assert [eid for eid, _ in fence.breaches(base + 5 + LOCK_TTL - 1, 1.0)] == ["b"]
    fence.release("b")
    assert fence.breaches(base + 5 + LOCK_TTL, 0.0) == []
    fence.hold("c", owner="me", claim_sent=base - LOCK_TTL, in_thread=False)  # a lease already over
    assert [eid for eid, _ in fence.breaches(base, 0.0)] == ["c"]
    fence.release("c")
    assert fence.breaches(base, 0.0) == []
    fence.hold("d", owner="other", claim_sent=base, in_thread=True)
    assert fence.revoke_owner("other") == ["d"]
    assert [eid for eid, _ in fence.breaches(base, 0.0)] == ["d"]
    fence.release("d")
    assert fence.breaches(base, 0.0) == []
    assert [eid for eid, _ in fence.breaches(base + 10 + LOCK_TTL, 0.0)] == ["a"]
