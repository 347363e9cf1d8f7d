"""The lease rules: when the sweep may hand a run to another executor, and when the executor holding it must stop
it first. Both sides are here so that the argument that they never overlap can be read in one place.

Clocks. The database stamps leases and heartbeats with its own clock; an executor times them with its monotonic
clock from the moment it *sent* the request the database stamped, which is no later than the stamp. Only
durations are compared across the two, so their offset does not matter (their rates are assumed equal; a
clock running 0.1 % fast over a 90-s lease is covered by the margin).

The sweep frees a running run (fails it, releases its place under max_instances) in two cases only:

1. **Lease expired.** The run's lock was not renewed for lock_ttl. Its executor stops the run no later than
   `lease_deadline` minus a watchdog tick, by its own clock, which is before the database's expiry.
2. **Executor gone.** The executor's heartbeat is older than instance_timeout *and* its presence mark on the
   broker (scheduler_core.broker.presence) was found absent, and still absent PRESENCE_GRACE_S later. The mark
   vanishes at once when a process is killed (its kernel closes the connection), so a killed executor's runs are
   failed about instance_timeout + 2 sweeps after its last heartbeat instead of a whole lease later. An
   executor cannot tell whether its missing heartbeats are everyone's database outage (when it must keep
   going) or its own isolation (when the sweep will act): so once its last successful heartbeat is
   instance_timeout old (`silence_deadline`) it keeps running tasks only while it proves, at least every
   PROOF_WINDOW_S, a presence mark that has existed without a break since before that deadline. The sweep's
   grace is longer than the proof window, so by the time the sweep acts on an absence, the executor's last
   valid proof is stale and it has stopped (within a watchdog tick).

No sweep judges silence until it has itself observed the database without a break for instance_timeout: after
an outage of everyone, or of the sweeper alone, every live process has had a full instance_timeout to
heartbeat again (observation_complete).
"""

from __future__ import annotations

from typing import Final

# Exit code of an executor that ended itself because it could no longer keep a lease (an orchestrator restarts it).
FENCED_EXIT_CODE: Final = 7
# Seconds between an executor's proofs of its presence mark while its heartbeats fail.
PROOF_INTERVAL_S: Final = 0.25
# Seconds a proof counts for: one sent longer ago than this proves nothing about now.
PROOF_WINDOW_S: Final = 1.0
# Seconds a presence mark must stay absent before the sweep acts on it; longer than PROOF_WINDOW_S, so that an
# executor whose mark vanished has found its last proof stale (and stopped) before the sweep frees its runs.
PRESENCE_GRACE_S: Final = 2.0 * PROOF_WINDOW_S
# Seconds before a deadline at which an executor cancels its cooperative (async) tasks, so that they can end
# cleanly before the watchdog's hard stop at the deadline itself.
SOFT_STOP_LEAD_S: Final = 1.0


def lease_deadline(sent: float, lock_ttl: float) -> float:
    """When a lease claimed or renewed by a request sent at monotonic `sent` ends, at the earliest."""
    return sent + lock_ttl


def silence_deadline(heartbeat_sent: float, instance_timeout: float) -> float:
    """When the sweep may first find an instance silent whose last successful heartbeat was sent at `heartbeat_sent`."""
    return heartbeat_sent + instance_timeout


def presence_vouches(
    now: float, *, held_since: float | None, proven_sent: float | None, silence_deadline: float
) -> bool:
    """Whether an executor past its silence deadline may still run tasks on the strength of its presence mark: the
    mark has existed without a break since before the deadline, and a proof of it was sent within PROOF_WINDOW_S."""
    return (
        held_since is not None
        and held_since < silence_deadline
        and proven_sent is not None
        and now - proven_sent < PROOF_WINDOW_S
    )


def observation_complete(observed_for: float, instance_timeout: float) -> bool:
    """Whether a sweeper that has observed the database without a break for `observed_for` seconds may judge
    other instances silent."""
    return observed_for >= instance_timeout
