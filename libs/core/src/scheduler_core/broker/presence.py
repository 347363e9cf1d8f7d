"""Presence: a process's mark on the broker that lives exactly as long as the process's broker connection.

The recovery sweep uses it as evidence of death beyond a stale heartbeat. A heartbeat can go stale because the
process died, but also because it was paused or cut off from the database; a presence mark disappears only
when the broker sees the process's connection close: at once when the process is killed (its kernel closes the
socket), after the AMQP heartbeat timeout when it is paused or cut off from the broker. An executor whose
heartbeats fail keeps running only while it can prove that its mark has existed without a break since before
its heartbeat could be judged stale (see scheduler_executor.fencing); so a sweep that finds the mark gone, and
still gone a grace period later, may fail the executor's runs without waiting for their leases to expire."""

from __future__ import annotations

from abc import ABC, abstractmethod


class Presence(ABC):
    """This process's presence mark, held from `Broker.hold_presence` until `release`."""

    @property
    @abstractmethod
    def held_since(self) -> float | None:
        """time.monotonic() from which the mark has existed without a break (no later than the truth: a mark
        re-created after a reconnection counts from the reconnection), or None while the connection is lost."""

    @abstractmethod
    async def prove(self) -> bool:
        """A round trip to the broker that succeeds only if the mark exists now; False if it does not, or the
        broker could not be asked in time."""

    @abstractmethod
    async def release(self) -> None:
        """Remove the mark (a graceful stop)."""
