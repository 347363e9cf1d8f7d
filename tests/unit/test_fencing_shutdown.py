"""The executor's fence shuts down even when its presence proof swallows the cancellation that close() sends (an
AMQP client may, while it opens a channel): before, the executor's stop waited for the soft fence forever."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from scheduler_core.broker import Presence
from scheduler_core.instance import InstanceHeartbeat
from scheduler_executor.fencing import Fencing

INSTANCE_TIMEOUT = 2.0  # seconds
WATCHDOG = 0.05  # seconds


class SwallowingMark(Presence):
    """A presence mark whose proof, when cancelled, answers False instead of raising."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()

    @property
    def held_since(self) -> float | None:
        return 0.0

    async def prove(self) -> bool:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled.set()
            return False
        return True

    async def release(self) -> None:
        return None


async def test_close_returns_although_the_presence_proof_swallowed_its_cancellation() -> None:
    instance = InstanceHeartbeat(
        cast(Any, None), cast(Any, None), role="executor", mode="standalone", interval=0.5, instance_timeout=2.0
    )
    instance.last_ok_sent = time.monotonic() - 3 * INSTANCE_TIMEOUT  # heartbeats fail: the mark is being proven
    fence = Fencing(
        instance, lock_ttl=12.0, instance_timeout=INSTANCE_TIMEOUT, watchdog_interval=WATCHDOG, on_breach=print
    )
    fence.presence = mark = SwallowingMark()
    fence.start(watchdog=False)
    await asyncio.sleep(5 * WATCHDOG)  # the soft fence is inside prove() now

    closing = asyncio.ensure_future(fence.close())
    done, _ = await asyncio.wait({closing}, timeout=2.0)

    assert mark.cancelled.is_set()
    assert closing in done, "close() still waits for the soft fence"
