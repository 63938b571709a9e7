"""The RabbitMQ job queue: one robust connection per process, confirmed publishes, and three
durable queues per job queue name.

    async with amqp_queue("amqp://guest:guest@rabbitmq/", queue_name="luna.validation") as q:
        await q.publish(7)                      # returns once the broker confirmed it

    <name>        the jobs; a rejected message is dead-lettered to <name>.dead
    <name>.retry  a job waiting out its retry delay (per-message TTL), dead-lettered back
                  to <name> when the delay is over
    <name>.dead   rejected messages, kept for an operator to inspect

The connection reconnects by itself after a broker restart or a network cut: queues and
consumers are declared again, and messages that were unsettled on the lost connection come
back from the broker marked `redelivered` (luna drops its stale copies of them).

Two broker limits shape this: RabbitMQ expires per-message TTLs only at the head of a queue,
so a retry waits behind an older one with a longer delay (luna's delays are all alike, so
the retry queue stays in order); and RabbitMQ 3.10 has no per-queue consumer timeout, so a
job is cut off by luna (LUNA_JOB_TIME_LIMIT_S, 20 min) well before the broker's 30 min
`consumer_timeout` would close the channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import aiormq
import orjson
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from luna.errors import BackendUnavailable

log = logging.getLogger("luna.queue")

# What a broker or network failure raises from aio-pika/aiormq (ChannelInvalidStateError is a
# RuntimeError there, and timeouts surface as TimeoutError).
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    ConnectionError,
    OSError,
    TimeoutError,
)

# Seconds between reconnection attempts: a restarted broker is back within seconds, and a
# quick retry keeps validators idle for as short a time as possible.
RECONNECT_INTERVAL_S = 1.0
# Opening the first connection: longer than a TCP handshake plus AMQP negotiation on a busy
# cluster, short enough that a wrong AMQP_URL fails the start-up visibly.
CONNECT_TIMEOUT_S = 10.0
# A publish waits this long for the broker's confirm, including a reconnection in progress;
# past it the caller gets BackendUnavailable and the job reconciler publishes again later.
PUBLISH_TIMEOUT_S = 10.0
# /health must answer quickly even when the broker does not.
PING_TIMEOUT_S = 3.0
# Header counting how often a job went through the retry queue (for operators reading it).
RETRIES_HEADER = "x-luna-retries"


def job_body(job_id: int) -> bytes:
    return orjson.dumps({"job_id": job_id})


def parse_job_id(body: bytes) -> int | None:
    """The job id in a message body, or None when the body is not a job message."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    job_id = payload.get("job_id") if isinstance(payload, dict) else None
    # bool is an int in Python; `{"job_id": true}` is not a job.
    if isinstance(job_id, int) and not isinstance(job_id, bool) and job_id > 0:
        return job_id
    return None


class QueueNames:
    """The three queue names of one job queue, and their declarations."""

    def __init__(self, name: str) -> None:
        self.jobs = name
        self.retry = f"{name}.retry"
        self.dead = f"{name}.dead"

    def jobs_arguments(self) -> dict[str, Any]:
        # Through the default exchange ("") a routing key names a queue directly.
        return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.dead}

    def retry_arguments(self) -> dict[str, Any]:
        return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": self.jobs}

    async def declare(self, channel: AbstractRobustChannel) -> AbstractQueue:
        """Declare all three (idempotent); a robust channel declares them again on reconnect."""
        await channel.declare_queue(self.dead, durable=True)
        await channel.declare_queue(self.retry, durable=True, arguments=self.retry_arguments())
        return await self.declare_jobs(channel)

    async def declare_jobs(self, channel: AbstractRobustChannel) -> AbstractQueue:
        return await channel.declare_queue(self.jobs, durable=True, arguments=self.jobs_arguments())


class AmqpJobQueue:
    """`JobQueue` on RabbitMQ; build it with `amqp_queue`."""

    kind = "rabbitmq"

    def __init__(
        self,
        connection: AbstractRobustConnection,
        publisher: AbstractRobustChannel,
        names: QueueNames,
    ) -> None:
        self.connection = connection
        self.names = names
        self._publisher = publisher

    async def publish(self, job_id: int) -> None:
        await self.publish_body(job_body(job_id), routing_key=self.names.jobs)

    async def publish_body(
        self,
        body: bytes,
        *,
        routing_key: str,
        expiration_s: float | None = None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publish persistently and return once the broker confirmed; unroutable (no such
        queue), refused or unconfirmed in time raises `BackendUnavailable`."""
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            expiration=expiration_s,
            headers=headers or {},
        )
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await self._publisher.ready()
                await self._publisher.default_exchange.publish(message, routing_key=routing_key)
        except BROKER_ERRORS as exc:
            raise BackendUnavailable(
                "broker", f"publish to {routing_key!r} failed: {exc!r}"
            ) from exc

    def consume(self, *, prefetch: int) -> AmqpDeliveries:
        return AmqpDeliveries(self, prefetch=prefetch)

    async def length(self) -> int:
        return await self._ready_count(self.names.jobs)

    async def dead_length(self) -> int:
        """Rejected messages kept aside in `<name>.dead`."""
        return await self._ready_count(self.names.dead)

    async def ping(self) -> None:
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                await self.length()
        except TimeoutError as exc:
            raise BackendUnavailable("broker", "no answer within the ping timeout") from exc

    async def _ready_count(self, queue_name: str) -> int:
        # A passive declare only asks: it answers the count of messages ready for delivery.
        try:
            channel = await self._publisher.get_underlay_channel()
            declared = await channel.queue_declare(queue_name, passive=True, timeout=PING_TIMEOUT_S)
        except BROKER_ERRORS as exc:
            raise BackendUnavailable("broker", f"cannot read {queue_name!r}: {exc!r}") from exc
        return int(declared.message_count or 0)


class AmqpDelivery:
    """One message taken from RabbitMQ; settles at most once, on the channel it came on."""

    def __init__(self, message: AbstractIncomingMessage, queue: AmqpJobQueue) -> None:
        self.job_id = parse_job_id(message.body)
        self.redelivered = bool(message.redelivered)
        self._message = message
        self._queue = queue
        self._settled = False

    async def ack(self) -> None:
        self._begin_settling()
        await self._broker_call(self._message.ack(), "ack")

    async def retry(self, *, delay_s: float) -> None:
        self._begin_settling()
        previous = (self._message.headers or {}).get(RETRIES_HEADER)
        retries = (previous if isinstance(previous, int) else 0) + 1
        names = self._queue.names
        # A fresh copy, not the original's headers: x-death entries carried into the retry
        # queue again would make RabbitMQ see a dead-letter cycle and drop the message.
        # Published before the ack, so a crash in between duplicates the job, never loses it.
        try:
            await self._queue.publish_body(
                self._message.body,
                routing_key=names.retry if delay_s > 0 else names.jobs,
                expiration_s=delay_s if delay_s > 0 else None,
                headers={RETRIES_HEADER: retries},
            )
        except BackendUnavailable as exc:
            # Left unsettled on a live channel the message would hold a prefetch slot for
            # good; handing it straight back runs the job again without its delay instead.
            log.warning("job %s: delayed retry failed (%s); requeued now", self.job_id, exc)
            await self._broker_call(self._message.reject(requeue=True), "requeue")
            return
        await self._broker_call(self._message.ack(), "ack after retry")

    async def reject(self, reason: str) -> None:
        self._begin_settling()
        log.warning(
            "job %s rejected to %s: %s",
            self.job_id,
            self._queue.names.dead,
            reason,
        )
        # requeue=False dead-letters it to <name>.dead in one broker step.
        await self._broker_call(self._message.reject(requeue=False), "reject")

    def _begin_settling(self) -> None:
        if self._settled:
            raise RuntimeError(f"delivery of job {self.job_id} is already settled")
        self._settled = True

    async def _broker_call(self, call: Any, what: str) -> None:
        try:
            await call
        except BROKER_ERRORS as exc:
            raise BackendUnavailable(
                "broker", f"{what} failed ({exc!r}); the broker delivers the job again"
            ) from exc


def _still_settleable(message: AbstractIncomingMessage) -> bool:
    """False for a message taken on a connection that has since dropped: the broker already
    gave it back to the queue, and will deliver it again."""
    try:
        return not message.channel.is_closed
    except aiormq.exceptions.ChannelInvalidStateError:
        return False


class AmqpDeliveries:
    """One consumer on its own channel with `basic.qos(prefetch)` (see `Deliveries`)."""

    def __init__(self, queue: AmqpJobQueue, *, prefetch: int) -> None:
        if prefetch < 1:
            raise ValueError("prefetch must be at least 1")
        self._queue = queue
        self._prefetch = prefetch
        # At most `prefetch` messages arrive unsettled, so this buffer is bounded by the broker.
        self._buffer: asyncio.Queue[AbstractIncomingMessage | None] = asyncio.Queue()
        self._channel: AbstractRobustChannel | None = None
        self._amqp_queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._starting = asyncio.Lock()
        self._stopped = False

    async def start(self) -> None:
        async with self._starting:
            if self._channel is not None or self._stopped:
                return
            try:
                channel = await self._queue.connection.channel(publisher_confirms=False)
                self._channel = channel
                await channel.set_qos(prefetch_count=self._prefetch)
                self._amqp_queue = await self._queue.names.declare_jobs(channel)
                self._consumer_tag = await self._amqp_queue.consume(self._received)
            except BROKER_ERRORS as exc:
                raise BackendUnavailable("broker", f"cannot start consuming: {exc!r}") from exc

    async def _received(self, message: AbstractIncomingMessage) -> None:
        self._buffer.put_nowait(message)

    def __aiter__(self) -> AmqpDeliveries:
        return self

    async def __anext__(self) -> AmqpDelivery:
        await self.start()
        while True:
            message = await self._buffer.get()
            if message is None:
                self._buffer.put_nowait(None)  # for any other waiter
                raise StopAsyncIteration
            if _still_settleable(message):
                return AmqpDelivery(message, self._queue)
            log.info("dropped a stale delivery from a lost connection; the broker resends it")

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._amqp_queue is not None and self._consumer_tag is not None:
            try:
                await self._amqp_queue.cancel(self._consumer_tag)
            except BROKER_ERRORS as exc:
                log.info("cancelling the consumer failed (%r); closing its channel will do", exc)
        await self._give_back_buffered()
        self._buffer.put_nowait(None)

    async def _give_back_buffered(self) -> None:
        while not self._buffer.empty():
            message = self._buffer.get_nowait()
            if message is None or not _still_settleable(message):
                continue
            try:
                await message.nack(requeue=True)
            except BROKER_ERRORS as exc:
                log.info("giving back a buffered message failed (%r); closing will", exc)

    async def close(self) -> None:
        await self.stop()
        if self._channel is not None and not self._channel.is_closed:
            # Closing the channel hands every unacknowledged message back to the broker.
            try:
                await self._channel.close()
            except BROKER_ERRORS as exc:
                log.info("closing the consumer channel failed: %r", exc)

    async def __aenter__(self) -> AmqpDeliveries:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


@asynccontextmanager
async def amqp_queue(
    url: str, *, queue_name: str, connection_name: str = "luna"
) -> AsyncIterator[AmqpJobQueue]:
    """The job queue `queue_name` on the broker at `url`, over one robust connection.

    Raises `BackendUnavailable` when the broker cannot be reached at start.
    `connection_name` is how the connection shows in RabbitMQ's tools.
    """
    try:
        connection = await aio_pika.connect_robust(
            url,
            timeout=CONNECT_TIMEOUT_S,
            reconnect_interval=RECONNECT_INTERVAL_S,
            client_properties={"connection_name": connection_name},
        )
    except BROKER_ERRORS as exc:
        # The URL carries the password: name only the failure.
        raise BackendUnavailable("broker", f"cannot connect: {exc!r}") from exc
    try:
        publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
        names = QueueNames(queue_name)
        await names.declare(publisher)
        yield AmqpJobQueue(connection, publisher, names)
    finally:
        await connection.close()
