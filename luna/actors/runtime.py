"""A small actor runtime: an actor owns its state and handles one message at a time from a
bounded mailbox; others reach it only through its `ActorRef`.

    class Counter(Actor):
        def __init__(self) -> None:
            self.count = 0
        async def receive(self, message: object) -> object:
            self.count += 1
            return self.count

    async with spawn(Counter(), name="counter") as counter:
        await counter.tell(Tick())             # waits only for mailbox space (back-pressure)
        assert await counter.ask(Tick()) == 2  # waits for the reply

The mailbox belongs to the `ActorRef`, not to the actor object: when a supervisor replaces a
failed actor with a fresh one from its factory, the new actor reads the same mailbox, so
messages queued for the old one are not lost and every sender's ref stays valid.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from luna.actors.messages import Stop
from luna.errors import LunaError

log = logging.getLogger("luna.actors")


class ActorStopped(LunaError):
    """The actor addressed has stopped for good: a tell or ask can never be handled."""

    def __init__(self, name: str) -> None:
        super().__init__(f"actor {name!r} has stopped")
        self.name = name


@dataclass(frozen=True, slots=True)
class _Envelope:
    message: object
    reply: asyncio.Future[object] | None  # set for an ask

    def answer(self, result: object) -> None:
        if self.reply is not None and not self.reply.done():
            self.reply.set_result(result)

    def fail(self, exc: BaseException) -> None:
        if self.reply is not None and not self.reply.done():
            self.reply.set_exception(exc)


class ActorRef:
    """The address of one actor: a bounded mailbox with `tell` and `ask`."""

    def __init__(self, name: str, *, mailbox_size: int) -> None:
        if mailbox_size < 1:
            raise ValueError("a mailbox holds at least one message")
        self.name = name
        self._mailbox: asyncio.Queue[_Envelope] = asyncio.Queue(maxsize=mailbox_size)
        self._closed = False

    def __repr__(self) -> str:
        return f"<ActorRef {self.name}>"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Messages waiting in the mailbox."""
        return self._mailbox.qsize()

    async def tell(self, message: object) -> None:
        """Queue `message`, waiting while the mailbox is full; no reply.

        Raises `ActorStopped` when the actor has stopped for good.
        """
        await self._post(_Envelope(message, None))

    async def ask(self, message: object, *, timeout_s: float | None = None) -> object:
        """Queue `message` and wait for the actor's answer (what its `receive` returned).

        Raises what `receive` raised, `ActorStopped` when the actor stops first, or
        `TimeoutError` after `timeout_s` (the message may still be handled later).
        """
        reply: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        async with asyncio.timeout(timeout_s):
            await self._post(_Envelope(message, reply))
            return await reply

    async def _post(self, envelope: _Envelope) -> None:
        if self._closed:
            raise ActorStopped(self.name)
        await self._mailbox.put(envelope)
        if self._closed:  # closed while this sender waited for space
            self._discard_mail()
            raise ActorStopped(self.name)

    async def _next(self) -> _Envelope:
        return await self._mailbox.get()

    def close(self) -> None:
        """No actor will read this mailbox again: waiting asks fail with `ActorStopped`."""
        self._closed = True
        self._discard_mail()

    def _discard_mail(self) -> None:
        while not self._mailbox.empty():
            self._mailbox.get_nowait().fail(ActorStopped(self.name))


class Actor:
    """Base class of luna's actors: override `receive`, and the hooks as needed.

    `run(ref)` is the actor's whole life; its owner (a supervisor or `spawn`) runs it as a task
    and ends it by cancelling that task or by telling it `Stop()`.
    """

    ref: ActorRef

    async def receive(self, message: object) -> object:
        """Handle one message; the result answers an `ask` (ignored for a `tell`).

        A raise is a failure: the asker (if any) gets the exception, `on_failure` runs and the
        actor ends; its supervisor decides whether a fresh actor takes over the mailbox.
        """
        raise NotImplementedError

    async def on_start(self) -> None:
        """Runs once, in the actor's task, before the first message is handled.

        A raise is a failure, like one in `receive` (`on_failure` runs, `on_stop` does not).
        """

    async def on_stop(self) -> None:
        """Runs once when the actor ends without failing: after `Stop`, or when its owner
        cancels it (shutdown, or a supervisor stopping it). Release what the actor holds.

        A raise is logged and otherwise ignored: the actor is ending either way.
        """

    async def on_failure(self, exc: Exception) -> None:
        """Runs once when `on_start` or `receive` raised `exc`, before the actor ends, so it can
        clean up what the failed message left behind (luna's validator retries its job). Also
        runs after the actor ended on a cancellation its supervisor never asked for
        (`exc` is then `StoppedUnasked`), from the supervisor's task, before the restart.

        A raise is logged and otherwise ignored: the original failure still ends the actor.
        """

    async def run(self, ref: ActorRef) -> None:
        """Live on `ref`'s mailbox until `Stop` (returns), cancellation (re-raised) or a failure
        (raised after `on_failure`). Call it once per actor object."""
        self.ref = ref
        try:
            await self.on_start()
            stop = await self._handle_mail(ref)
        except asyncio.CancelledError:
            await self._run_hook(self.on_stop(), "on_stop")
            raise
        except Exception as exc:
            await self._run_hook(self.on_failure(exc), "on_failure")
            raise
        await self._run_hook(self.on_stop(), "on_stop")
        stop.answer(None)  # an `ask(Stop())` returns once the actor has stopped

    async def _handle_mail(self, ref: ActorRef) -> _Envelope:
        """Handle messages until `Stop`; return the Stop's envelope."""
        while True:
            envelope = await ref._next()
            if isinstance(envelope.message, Stop):
                return envelope
            try:
                result = await self.receive(envelope.message)
            except asyncio.CancelledError:
                envelope.fail(ActorStopped(ref.name))
                raise
            except Exception as exc:
                envelope.fail(exc)
                raise
            envelope.answer(result)

    async def release_after_failure(self, exc: Exception) -> None:
        """Run `on_failure` for a failure the actor's owner detected after it ended."""
        await self._run_hook(self.on_failure(exc), "on_failure")

    async def _run_hook(self, hook: Awaitable[None], name: str) -> None:
        try:
            await hook
        except Exception:
            log.exception("actor %s: %s raised", self.ref.name, name)


@asynccontextmanager
async def spawn(actor: Actor, *, name: str, mailbox_size: int = 16) -> AsyncIterator[ActorRef]:
    """Run one unsupervised actor for the duration of the block; leaving cancels it.

    A failure of the actor cancels the block and is raised from it (in an ExceptionGroup,
    as with any TaskGroup); use a `Supervisor` for actors that should be restarted.
    """
    ref = ActorRef(name, mailbox_size=mailbox_size)
    try:
        async with asyncio.TaskGroup() as group:
            task = group.create_task(actor.run(ref), name=f"actor {name}")
            # Once the actor has ended, senders must hear so instead of waiting on its mailbox.
            task.add_done_callback(lambda _: ref.close())
            try:
                yield ref
            finally:
                task.cancel()
    finally:
        ref.close()
