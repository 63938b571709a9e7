"""The supervisor: fresh restarts on the same mailbox, restart policies, exponential backoff,
and escalation when the restart budget is spent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from luna.actors.messages import Stop
from luna.actors.runtime import Actor, ActorStopped
from luna.actors.supervisor import ChildSpec, RestartPolicy, Supervisor, SupervisorEscalated


async def loop_until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until `condition` holds; it needs their steps, not time."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


@dataclass(frozen=True)
class Crash:
    pass


@dataclass(frozen=True)
class Count:
    pass


@dataclass
class Journal:
    """What the children of one test did, in order, across their restarts."""

    entries: list[str] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)


class Worker(Actor):
    def __init__(self, name: str, journal: Journal, *, fail_on_start: bool = False) -> None:
        self.name = name
        self.journal = journal
        self.fail_on_start = fail_on_start
        self.handled = 0

    async def on_start(self) -> None:
        self.journal.starts.append(time.monotonic())
        self.journal.entries.append(f"{self.name} start")
        if self.fail_on_start:
            raise RuntimeError(f"{self.name} cannot start")

    async def on_stop(self) -> None:
        self.journal.entries.append(f"{self.name} stop")

    async def receive(self, message: object) -> object:
        if isinstance(message, Crash):
            raise RuntimeError(f"{self.name} crashed")
        self.handled += 1
        return self.handled


def quick_supervisor(**overrides: float) -> Supervisor:
    settings: dict[str, float] = {
        "max_restarts": 3,
        "within_s": 30.0,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
    }
    settings.update(overrides)
    return Supervisor(name="test", **settings)  # type: ignore[arg-type]


async def test_a_failed_child_is_replaced_by_a_fresh_actor_on_the_same_mailbox() -> None:
    journal = Journal()
    supervisor = quick_supervisor()
    worker = supervisor.add_child(ChildSpec("worker", lambda: Worker("w", journal)))
    async with supervisor.running():
        assert await worker.ask(Count()) == 1
        assert await worker.ask(Count()) == 2
        await worker.tell(Crash())
        await worker.tell(Count())  # queued behind the crash; the fresh actor handles it
        # The fresh actor's state starts over: this is its second message.
        assert await worker.ask(Count()) == 2
        assert supervisor.restarts("worker") == 1
    assert journal.entries == ["w start", "w start", "w stop"]


async def test_restart_policies_decide_which_children_come_back() -> None:
    journal = Journal()
    supervisor = quick_supervisor(max_restarts=10)
    refs = {
        policy: supervisor.add_child(
            ChildSpec(policy.value, lambda p=policy: Worker(p.value, journal), restart=policy)
        )
        for policy in RestartPolicy
    }
    async with supervisor.running():
        for ref in refs.values():
            await ref.ask(Stop())
        # Permanent comes back even after a clean stop; the others stay stopped.
        assert await refs[RestartPolicy.PERMANENT].ask(Count()) == 1
        for policy in (RestartPolicy.TRANSIENT, RestartPolicy.TEMPORARY):
            await loop_until(lambda p=policy: refs[p].closed)
            with pytest.raises(ActorStopped):
                await refs[policy].tell(Count())
    assert supervisor.restarts("permanent") == 1

    journal = Journal()
    supervisor = quick_supervisor(max_restarts=10)
    transient = supervisor.add_child(
        ChildSpec("t", lambda: Worker("t", journal), restart=RestartPolicy.TRANSIENT)
    )
    temporary = supervisor.add_child(
        ChildSpec("x", lambda: Worker("x", journal), restart=RestartPolicy.TEMPORARY)
    )
    async with supervisor.running():
        await transient.tell(Crash())
        await temporary.tell(Crash())
        # Transient comes back after a failure; temporary never does.
        assert await transient.ask(Count()) == 1
        await loop_until(lambda: temporary.closed)
    assert (supervisor.restarts("t"), supervisor.restarts("x")) == (1, 0)


async def test_restarts_back_off_exponentially() -> None:
    journal = Journal()
    supervisor = quick_supervisor(max_restarts=4, backoff_initial_s=0.05, backoff_max_s=0.15)
    supervisor.add_child(ChildSpec("w", lambda: Worker("w", journal, fail_on_start=True)))
    async with supervisor.running():
        await supervisor.wait_failed()
    gaps = [
        later - earlier for earlier, later in zip(journal.starts, journal.starts[1:], strict=False)
    ]
    assert len(gaps) == 4
    # Lower bounds only: 0.05, 0.1, then capped at 0.15.
    for gap, backoff_s in zip(gaps, [0.05, 0.1, 0.15, 0.15], strict=True):
        assert gap >= backoff_s


async def test_spending_the_restart_budget_escalates_and_stops_every_child() -> None:
    journal = Journal()
    supervisor = quick_supervisor(max_restarts=2)
    healthy = supervisor.add_child(ChildSpec("healthy", lambda: Worker("healthy", journal)))
    supervisor.add_child(ChildSpec("broken", lambda: Worker("b", journal, fail_on_start=True)))
    async with supervisor.running():
        failure = await supervisor.wait_failed()
        assert isinstance(failure, SupervisorEscalated)
        assert isinstance(failure.__cause__, RuntimeError)
        assert supervisor.failure is failure
        await loop_until(lambda: healthy.closed)
        with pytest.raises(ActorStopped):
            await healthy.tell(Count())
    # Two restarts were allowed; the third failure escalated.
    assert journal.entries.count("b start") == 3
    assert "healthy stop" in journal.entries


async def test_the_budget_counts_restarts_within_the_window_only() -> None:
    journal = Journal()
    supervisor = quick_supervisor(
        max_restarts=1, within_s=0.05, backoff_initial_s=0.08, backoff_max_s=0.08
    )
    worker = supervisor.add_child(ChildSpec("w", lambda: Worker("w", journal)))
    async with supervisor.running():
        for _ in range(3):
            await worker.tell(Crash())
            await worker.ask(Count())  # waits out the backoff (longer than the window)
        assert supervisor.failure is None
    assert supervisor.restarts("w") == 3


async def test_terminate_child_stops_it_for_good() -> None:
    journal = Journal()
    supervisor = quick_supervisor()
    worker = supervisor.add_child(ChildSpec("w", lambda: Worker("w", journal)))
    async with supervisor.running():
        await worker.ask(Count())
        await supervisor.terminate_child("w")
        with pytest.raises(ActorStopped):
            await worker.ask(Count())
    assert journal.entries == ["w start", "w stop"]


async def test_leaving_stops_children_in_reverse_order() -> None:
    journal = Journal()
    supervisor = quick_supervisor()
    for name in ("first", "second", "third"):
        supervisor.add_child(ChildSpec(name, lambda n=name: Worker(n, journal)))
    async with supervisor.running():
        for name in ("first", "second", "third"):
            await supervisor.ref(name).ask(Count())  # every child has started
    assert journal.entries[3:] == ["third stop", "second stop", "first stop"]


async def test_a_child_added_while_running_starts_at_once() -> None:
    journal = Journal()
    supervisor = quick_supervisor()
    async with supervisor.running():
        late = supervisor.add_child(ChildSpec("late", lambda: Worker("late", journal)))
        assert await late.ask(Count()) == 1
        with pytest.raises(ValueError, match="already exists"):
            supervisor.add_child(ChildSpec("late", lambda: Worker("late", journal)))


class Holder(Worker):
    """A worker that records `on_failure`, as the validator settles the job it held there."""

    async def on_failure(self, exc: Exception) -> None:
        self.journal.entries.append(f"{self.name} failure {type(exc).__name__}")


async def test_a_child_cancelled_by_anyone_else_is_restarted_as_after_a_crash() -> None:
    """Stopping is the supervisor's decision: a stray cancellation (a library's, or a
    TaskGroup's leftover) is a crash, not a stop, and the child comes back."""
    journal = Journal()
    supervisor = quick_supervisor()
    worker = supervisor.add_child(ChildSpec("w", lambda: Holder("w", journal)))
    async with supervisor.running():
        await worker.ask(Count())
        assert supervisor.alive("w")
        supervisor._children["w"].task.cancel()  # nobody told the supervisor
        await loop_until(lambda: supervisor.restarts("w") == 1 and supervisor.alive("w"))
        assert await worker.ask(Count()) == 1  # a fresh actor, on the same mailbox
    assert journal.entries == [
        "w start",
        "w stop",
        "w failure StoppedUnasked",
        "w start",
        "w stop",
    ]


async def test_a_terminated_child_is_no_longer_alive() -> None:
    supervisor = quick_supervisor()
    supervisor.add_child(ChildSpec("w", lambda: Worker("w", Journal())))
    async with supervisor.running():
        await supervisor.ref("w").ask(Count())
        assert supervisor.alive("w")
        await supervisor.terminate_child("w")
        assert not supervisor.alive("w")
        assert supervisor.restarts("w") == 0
