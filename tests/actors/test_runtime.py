"""The actor runtime: tell and ask, bounded mailboxes, hooks, and how an actor ends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from luna.actors.messages import Stop
from luna.actors.runtime import Actor, ActorRef, ActorStopped, spawn


async def loop_until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until `condition` holds; it needs their steps, not time."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


@dataclass(frozen=True)
class Add:
    amount: int


@dataclass(frozen=True)
class Total:
    pass


@dataclass(frozen=True)
class Hold:
    """Keeps the actor busy until `release` is set."""

    release: asyncio.Event


@dataclass(frozen=True)
class Boom:
    pass


class Counter(Actor):
    def __init__(self, events: list[str] | None = None) -> None:
        self.total = 0
        self.events = events if events is not None else []

    async def on_start(self) -> None:
        self.events.append("start")

    async def on_stop(self) -> None:
        self.events.append("stop")

    async def on_failure(self, exc: Exception) -> None:
        self.events.append(f"failure {exc!r}")

    async def receive(self, message: object) -> object:
        match message:
            case Add(amount):
                self.total += amount
                self.events.append(f"add {amount}")
            case Total():
                return self.total
            case Hold(release):
                await release.wait()
            case Boom():
                raise ValueError("boom")
        return None


async def test_tell_queues_a_message_and_ask_returns_the_reply() -> None:
    async with spawn(Counter(), name="counter") as counter:
        await counter.tell(Add(2))
        await counter.tell(Add(3))
        assert await counter.ask(Total()) == 5


async def test_messages_are_handled_one_at_a_time_in_order() -> None:
    events: list[str] = []
    async with spawn(Counter(events), name="counter") as counter:
        for amount in range(5):
            await counter.tell(Add(amount))
        await counter.ask(Total())
    assert events == ["start", "add 0", "add 1", "add 2", "add 3", "add 4", "stop"]


async def test_a_full_mailbox_makes_tell_wait_until_there_is_room() -> None:
    release = asyncio.Event()
    async with spawn(Counter(), name="counter", mailbox_size=2) as counter:
        await counter.tell(Hold(release))
        await loop_until(lambda: counter.pending == 0)  # the actor took Hold and is busy with it
        await counter.tell(Add(1))
        await counter.tell(Add(1))
        async with asyncio.TaskGroup() as group:
            third = group.create_task(counter.tell(Add(1)))
            for _ in range(20):
                await asyncio.sleep(0)
            assert counter.pending == 2
            assert not third.done()  # back-pressure: the sender waits for the busy actor
            release.set()
        assert await counter.ask(Total()) == 3


async def test_ask_raises_what_receive_raised_and_the_actor_fails() -> None:
    events: list[str] = []
    with pytest.raises(ExceptionGroup) as raised:
        async with spawn(Counter(events), name="counter") as counter:
            with pytest.raises(ValueError, match="boom"):
                await counter.ask(Boom())
            await asyncio.Event().wait()  # the failure cancels the block
    assert raised.group_contains(ValueError, match="boom")
    # on_failure ran with the exception; on_stop did not.
    assert events == ["start", "failure ValueError('boom')"]


async def test_a_raise_in_on_start_is_a_failure_before_any_message() -> None:
    class FailsToStart(Counter):
        async def on_start(self) -> None:
            raise RuntimeError("no config")

    events: list[str] = []
    with pytest.raises(ExceptionGroup) as raised:
        async with spawn(FailsToStart(events), name="broken") as broken:
            await broken.tell(Add(1))
            await asyncio.Event().wait()
    assert raised.group_contains(RuntimeError, match="no config")
    assert events == ["failure RuntimeError('no config')"]


async def test_stop_ends_the_actor_after_earlier_messages_and_refuses_later_ones() -> None:
    events: list[str] = []
    async with spawn(Counter(events), name="counter") as counter:
        await counter.tell(Add(1))
        await counter.ask(Stop())  # returns once on_stop ran
        assert events == ["start", "add 1", "stop"]
        # spawn closes the mailbox as the actor's task ends
        await loop_until(lambda: counter.closed)
        with pytest.raises(ActorStopped):
            await counter.tell(Add(2))
    assert events == ["start", "add 1", "stop"]


async def test_leaving_spawn_cancels_a_busy_actor_and_runs_on_stop() -> None:
    events: list[str] = []
    async with spawn(Counter(events), name="counter") as counter:
        await counter.tell(Hold(asyncio.Event()))
        await counter.tell(Add(1))  # never handled
        await loop_until(lambda: counter.pending == 1)
    assert events == ["start", "stop"]
    with pytest.raises(ActorStopped):
        await counter.ask(Total())


async def test_an_ask_waiting_in_the_mailbox_fails_when_the_actor_stops_for_good() -> None:
    ref = ActorRef("nobody", mailbox_size=4)

    async def ask_in_vain() -> None:
        with pytest.raises(ActorStopped):
            await ref.ask(Total())

    async with asyncio.TaskGroup() as group:
        group.create_task(ask_in_vain())
        await loop_until(lambda: ref.pending == 1)
        ref.close()


async def test_a_raise_in_on_stop_is_logged_and_the_actor_still_ends(caplog) -> None:
    class SloppyStop(Counter):
        async def on_stop(self) -> None:
            raise RuntimeError("left a mess")

    async with spawn(SloppyStop(), name="sloppy") as sloppy:
        await sloppy.ask(Stop())
    assert "on_stop raised" in caplog.text
    assert sloppy.closed


async def test_a_mailbox_holds_at_least_one_message() -> None:
    with pytest.raises(ValueError):
        ActorRef("empty", mailbox_size=0)
