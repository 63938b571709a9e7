"""A supervisor: runs child actors, restarts the ones that end, and gives up (escalates) when
they keep failing, so the process exits and Kubernetes starts a clean one.

    supervisor = Supervisor(name="validators", max_restarts=5, within_s=30)
    worker = supervisor.add_child(ChildSpec("worker", factory=Worker))
    async with supervisor.running():
        await worker.tell(Job(...))
        failure = await supervisor.wait_failed()   # returns only if it escalated

A restart builds a fresh actor from the child's factory on the same mailbox (see `runtime`):
state dies with the failed actor, queued messages do not. Restarts wait an exponential
backoff; more than `max_restarts` of them within `within_s` seconds, counted over all
children, is an escalation: every child is stopped and `wait_failed()` returns. Each child
runs in a task of the supervisor's TaskGroup; none outlives `running()`.

Only the supervisor decides that a child stops (`terminate_child`, leaving `running()`, an
escalation), and it records that decision before cancelling. A child that ends any other
way, a stray cancellation included, stopped without being told: that is a crash, its
`on_failure` runs (releasing what it held) and it is restarted under the same budget.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from luna.actors.runtime import Actor, ActorRef
from luna.errors import LunaError
from luna.tasks import cancel_until_done, forget_cancellations

log = logging.getLogger("luna.actors")


class RestartPolicy(enum.Enum):
    """When a child that ended is started again (the OTP names)."""

    PERMANENT = "permanent"  # always, even after a clean stop
    TRANSIENT = "transient"  # only after a failure
    TEMPORARY = "temporary"  # never

    def restarts_after(self, failure: Exception | None) -> bool:
        if self is RestartPolicy.PERMANENT:
            return True
        return self is RestartPolicy.TRANSIENT and failure is not None


@dataclass(frozen=True)
class ChildSpec:
    """How to run one child: its id (also its ref's name), how to build a fresh actor, when to
    restart it, and how many messages its mailbox holds before senders wait."""

    id: str
    factory: Callable[[], Actor]
    restart: RestartPolicy = RestartPolicy.PERMANENT
    mailbox_size: int = 16


class SupervisorEscalated(LunaError):
    """A supervisor's children failed more often than its restart budget allows."""


class StoppedUnasked(LunaError):
    """A child ended although nobody told it to stop: treated as a crash."""

    def __init__(self, child_id: str) -> None:
        super().__init__(f"child {child_id!r} stopped without being told to")
        self.child_id = child_id


@dataclass
class _Child:
    spec: ChildSpec
    ref: ActorRef
    task: asyncio.Task[None] | None = None
    restarts: int = 0
    failure_streak: int = 0
    alive: bool = False  # an actor of this child is running right now
    told_to_stop: bool = False


class Supervisor:
    """Owns its children's tasks and restarts; see the module docstring."""

    def __init__(
        self,
        *,
        name: str = "supervisor",
        max_restarts: int = 5,
        within_s: float = 30.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
    ) -> None:
        if max_restarts < 0 or within_s <= 0:
            raise ValueError("the restart budget needs max_restarts >= 0 and within_s > 0")
        self.name = name
        self.max_restarts = max_restarts
        self.within_s = within_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._children: dict[str, _Child] = {}
        self._restart_times: deque[float] = deque()
        self._group: asyncio.TaskGroup | None = None
        self._failed = asyncio.Event()
        self._failure: SupervisorEscalated | None = None
        self._stopping = False  # decided by leaving `running()` or by an escalation

    def add_child(self, spec: ChildSpec) -> ActorRef:
        """Register a child and return its ref; started now if the supervisor is running."""
        if spec.id in self._children:
            raise ValueError(f"child {spec.id!r} already exists")
        child = _Child(spec, ActorRef(spec.id, mailbox_size=spec.mailbox_size))
        self._children[spec.id] = child
        if self._group is not None:
            self._start(child)
        return child.ref

    def ref(self, child_id: str) -> ActorRef:
        return self._children[child_id].ref

    def restarts(self, child_id: str) -> int:
        """How often this child was restarted."""
        return self._children[child_id].restarts

    def alive(self, child_id: str) -> bool:
        """Whether an actor of this child is running now (not ended, not waiting to restart)."""
        return self._children[child_id].alive

    @property
    def total_restarts(self) -> int:
        return sum(child.restarts for child in self._children.values())

    @property
    def failure(self) -> SupervisorEscalated | None:
        return self._failure

    async def wait_failed(self) -> SupervisorEscalated:
        """Return once the supervisor escalated (never, if it does not)."""
        await self._failed.wait()
        assert self._failure is not None
        return self._failure

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Supervisor]:
        """Run the children (in the order added) for the block; leaving stops them in reverse
        order, each one cancelled (its `on_stop` runs) and awaited before the next."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            for child in self._children.values():
                self._start(child)
            try:
                yield self
            finally:
                self._group = None
                self._stopping = True
                for child in reversed(list(self._children.values())):
                    await self._stop(child)

    async def terminate_child(self, child_id: str) -> None:
        """Stop a child for good (no restart); its ref refuses new messages."""
        await self._stop(self._children[child_id])

    def _start(self, child: _Child) -> None:
        assert self._group is not None
        child.task = self._group.create_task(self._keep(child), name=f"{self.name}/{child.spec.id}")

    async def _stop(self, child: _Child) -> None:
        child.told_to_stop = True
        if child.task is not None:
            await cancel_until_done(child.task)
        child.ref.close()

    def _told_to_stop(self, child: _Child) -> bool:
        return self._stopping or child.told_to_stop

    async def _keep(self, child: _Child) -> None:
        """Run the child, and run it again while its policy and the budget say so."""
        try:
            while True:
                started = time.monotonic()
                failure = await self._run_once(child)
                if self._told_to_stop(child):
                    return
                if not child.spec.restart.restarts_after(failure):
                    log.info("%s: child %s ended; not restarted", self.name, child.spec.id)
                    return
                child.failure_streak = self._next_streak(
                    child.failure_streak, failure, ran_s=time.monotonic() - started
                )
                if not self._budget_allows_restart():
                    self._escalate(child, failure)
                    return
                delay_s = self._backoff_s(child.failure_streak)
                log.warning(
                    "%s: restarting child %s in %.2f s after %s",
                    self.name,
                    child.spec.id,
                    delay_s,
                    repr(failure) if failure else "a clean stop",
                )
                try:
                    await asyncio.sleep(delay_s)
                except asyncio.CancelledError:
                    if self._told_to_stop(child):
                        raise
                    forget_cancellations()  # not ours: restart as planned
                child.restarts += 1
        finally:
            child.ref.close()

    async def _run_once(self, child: _Child) -> Exception | None:
        """One life of the child: a fresh actor on the child's mailbox; its failure, if any
        (`StoppedUnasked` when it was cancelled by anyone but this supervisor)."""
        actor: Actor | None = None
        child.alive = True
        try:
            actor = child.spec.factory()
            await actor.run(child.ref)
        except asyncio.CancelledError:
            if self._told_to_stop(child):
                raise
            # Nobody here asked for this: a leftover or a stray cancellation. Withdraw what is
            # pending so the next life does not inherit it, and handle it as a crash.
            forget_cancellations()
            unasked = StoppedUnasked(child.spec.id)
            log.error("%s: %s; restarting it as after a crash", self.name, unasked)
            if actor is not None:
                await actor.release_after_failure(unasked)
            return unasked
        except Exception as exc:
            if self._told_to_stop(child):
                return None  # a library turned our cancellation into its own error
            log.error("%s: child %s failed", self.name, child.spec.id, exc_info=exc)
            return exc
        finally:
            child.alive = False
        return None

    def _next_streak(self, streak: int, failure: Exception | None, *, ran_s: float) -> int:
        """Failures in a row; a child that lived through a whole budget window is healthy."""
        if failure is None:
            return 0
        return 1 if ran_s >= self.within_s else streak + 1

    def _budget_allows_restart(self) -> bool:
        now = time.monotonic()
        while self._restart_times and now - self._restart_times[0] > self.within_s:
            self._restart_times.popleft()
        if len(self._restart_times) >= self.max_restarts:
            return False
        self._restart_times.append(now)
        return True

    def _backoff_s(self, failure_streak: int) -> float:
        if failure_streak == 0:
            return 0.0
        return float(min(self.backoff_max_s, self.backoff_initial_s * 2 ** (failure_streak - 1)))

    def _escalate(self, child: _Child, failure: Exception | None) -> None:
        self._failure = SupervisorEscalated(
            f"{self.name}: more than {self.max_restarts} restarts within {self.within_s:g} s "
            f"(last: child {child.spec.id}, {failure!r}); stopping every child"
        )
        self._failure.__cause__ = failure
        log.error("%s", self._failure)
        self._stopping = True
        current = asyncio.current_task()
        for other in self._children.values():
            if other.task is not None and other.task is not current:
                other.task.cancel()
        self._failed.set()
