"""The consumer actor: takes one delivery from the queue for each idle validator and tells it
to that validator.

Work is pulled, not pushed: a validator tells `ValidatorReady` when idle, and only then does
the consumer take the next delivery. No job waits behind a long one while a validator is
free, and with the queue's prefetch equal to the pool size, the broker stops sending once
every validator is busy: back-pressure reaches RabbitMQ.
"""

from __future__ import annotations

import logging

from luna import constants
from luna.actors.messages import RunJob, ValidatorReady
from luna.actors.runtime import Actor, ActorRef, ActorStopped
from luna.actors.validator import settle
from luna.errors import Retry
from luna.queue.base import Deliveries, Delivery

log = logging.getLogger("luna.actors")


class Consumer(Actor):
    """Hands out deliveries from `deliveries` (owned by the pool, so they outlive a restart
    of this actor) one per `ValidatorReady`."""

    def __init__(self, deliveries: Deliveries) -> None:
        self._deliveries = deliveries
        self._serving: ActorRef | None = None  # the validator whose demand is being served
        self._in_hand: Delivery | None = None  # taken but not yet told to it

    async def receive(self, message: object) -> object:
        if not isinstance(message, ValidatorReady):
            raise TypeError(f"the consumer cannot handle {message!r}")
        self._serving = message.validator
        try:
            self._in_hand = await anext(self._deliveries)
        except StopAsyncIteration:
            return None  # the pool stopped consuming; the demand lapses with it
        try:
            await message.validator.tell(RunJob(self._in_hand))
        except ActorStopped:
            # Stopped for good (shutdown, or terminated): the job goes back to the queue now,
            # for any validator, rather than waiting for this channel to close.
            log.info(
                "validator %s stopped for good; job %s goes back to the queue",
                message.validator.name,
                self._in_hand.job_id,
            )
            await settle(self._in_hand, Retry("its validator stopped", delay_s=0))
        self._in_hand = None
        self._serving = None
        return None

    async def on_failure(self, exc: Exception) -> None:
        """Gives back what the failed step held: the delivery in hand is retried, and the
        validator's demand is queued again for the fresh consumer (it shares this mailbox)."""
        if self._in_hand is not None:
            await settle(
                self._in_hand,
                Retry(f"consumer crashed: {exc!r}", delay_s=constants.JOB_RETRY_DELAY_S),
            )
        if self._serving is not None:
            await self.ref.tell(ValidatorReady(self._serving))
