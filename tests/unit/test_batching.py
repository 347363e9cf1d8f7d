"""The executor's Batcher: items submitted together share a flush; with a linger, items that trickle in one at a
time do too."""

from __future__ import annotations

import asyncio

from scheduler_executor.batching import Batcher


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.writing = asyncio.Event()  # set once the first write has begun

    async def flush(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        self.writing.set()
        await asyncio.sleep(0.01)  # a write in flight: what arrives meanwhile waits for the next batch
        return [item * 10 for item in items]


async def _trickle(batcher: Batcher[int, int], count: int, gap_s: float) -> list[int]:
    async def one(item: int) -> int:
        await asyncio.sleep(item * gap_s)
        return await batcher.submit(item)

    return await asyncio.gather(*(one(item) for item in range(count)))


async def test_without_a_linger_items_a_loop_turn_apart_are_written_apart() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.flush, max_batch=100)
    assert await _trickle(batcher, 3, gap_s=0.05) == [0, 10, 20]
    assert recorder.batches == [[0], [1], [2]]


async def test_a_linger_gathers_items_that_trickle_in_into_one_write() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.flush, max_batch=100, linger=0.5)
    assert await _trickle(batcher, 5, gap_s=0.02) == [0, 10, 20, 30, 40]
    assert recorder.batches == [[0, 1, 2, 3, 4]]


async def test_with_a_linger_what_arrives_during_a_write_waits_for_the_next_linger() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.flush, max_batch=100, linger=0.05)
    loop = asyncio.get_running_loop()
    began = loop.time()

    async def during_the_first_write() -> float:
        await recorder.writing.wait()  # the first batch's write has begun (it lasts 10 ms)
        assert await batcher.submit(1) == 10
        return loop.time() - began

    first, second_done_after = await asyncio.gather(batcher.submit(0), during_the_first_write())
    assert first == 0
    assert recorder.batches == [[0], [1]]
    assert second_done_after >= 0.05 + 0.05  # two lingers: the second batch was not written on the first's heels
