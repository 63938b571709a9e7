"""What only the RabbitMQ queue does: confirmed persistent publishes, its three queues,
malformed bodies, and surviving a lost connection or a killed consumer process."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
from pathlib import Path

import aio_pika
import orjson
import pytest

from luna.errors import BackendUnavailable
from luna.queue.amqp import AmqpJobQueue, amqp_queue

CONSUMER_PROCESS = Path(__file__).with_name("consumer_process.py")


async def test_a_published_job_is_a_persistent_json_message(
    rabbit_queue: AmqpJobQueue, amqp_url: str
) -> None:
    await rabbit_queue.publish(42)
    # The confirm came back: the broker has it, before anyone consumed.
    assert await rabbit_queue.length() == 1
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        queue = await channel.get_queue(rabbit_queue.names.jobs, ensure=False)
        message = await queue.get(no_ack=False)
        assert orjson.loads(message.body) == {"job_id": 42}
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        await message.reject(requeue=True)


async def test_publishing_where_no_queue_is_raises_backend_unavailable(
    rabbit_queue: AmqpJobQueue,
) -> None:
    with pytest.raises(BackendUnavailable, match="broker"):
        await rabbit_queue.publish_body(
            b'{"job_id": 1}', routing_key=f"{rabbit_queue.names.jobs}.x"
        )


async def test_an_unreachable_broker_raises_backend_unavailable(queue_name: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(BackendUnavailable, match="cannot connect"):
            async with amqp_queue(f"amqp://guest:guest@127.0.0.1:{port}/", queue_name=queue_name):
                pass


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"job_id": "7"}', b'{"job_id": true}', b'{"job": 7}']
)
async def test_a_body_that_is_not_a_job_message_has_no_job_id(
    rabbit_queue: AmqpJobQueue, body: bytes, until
) -> None:
    await rabbit_queue.publish_body(body, routing_key=rabbit_queue.names.jobs)
    async with rabbit_queue.consume(prefetch=1) as deliveries:
        delivery = await anext(deliveries)
        assert delivery.job_id is None
        await delivery.reject("not a job message")

    async def in_dead_queue() -> bool:
        return await rabbit_queue.dead_length() == 1

    await until(in_dead_queue)


async def test_a_retried_job_waits_in_the_retry_queue(rabbit_queue: AmqpJobQueue, until) -> None:
    await rabbit_queue.publish(5)
    async with rabbit_queue.consume(prefetch=1) as deliveries:
        delivery = await anext(deliveries)
        # A delay far longer than the test: the copy must sit in <name>.retry meanwhile.
        await delivery.retry(delay_s=600)
    assert await rabbit_queue.length() == 0
    assert await rabbit_queue._ready_count(rabbit_queue.names.retry) == 1


async def test_consuming_resumes_after_the_broker_drops_the_connection(
    rabbit_queue: AmqpJobQueue, queue_name: str, until
) -> None:
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        pytest.skip("rabbitmqctl is not installed here")
    await rabbit_queue.publish(1)
    await rabbit_queue.publish(2)
    async with rabbit_queue.consume(prefetch=2) as deliveries:
        held = await anext(deliveries)
        assert held.job_id == 1

        async def both_sent_to_us() -> bool:
            return await rabbit_queue.length() == 0

        await until(both_sent_to_us)  # job 2 now waits in the consumer's buffer

        # What a broker restart does to a client: the broker closes the connection.
        await close_connection_from_broker(rabbitmqctl, f"luna-test {queue_name}")

        with pytest.raises(BackendUnavailable):
            await held.ack()  # its channel is gone; the broker gives the job back
        await rabbit_queue.publish(3)  # waits for the reconnection, then for the confirm
        # The consumer is back: both unsettled jobs come again (the stale buffered copy of
        # job 2 is not handed out), then the new one.
        again = [await asyncio.wait_for(anext(deliveries), 30) for _ in range(2)]
        assert sorted((d.job_id, d.redelivered) for d in again) == [(1, True), (2, True)]
        for delivery in again:
            await delivery.ack()
        new = await asyncio.wait_for(anext(deliveries), 30)
        assert (new.job_id, new.redelivered) == (3, False)
        await new.ack()
    assert await rabbit_queue.length() == 0


async def close_connection_from_broker(rabbitmqctl: str, connection_name: str) -> None:
    listing = await run(rabbitmqctl, "-q", "list_connections", "pid", "client_properties")
    pids = [
        line.split("\t", 1)[0]
        for line in listing.splitlines()
        if f'{{"connection_name","{connection_name}"}}' in line
    ]
    assert len(pids) == 1, listing
    await run(rabbitmqctl, "-q", "close_connection", pids[0], "luna test: broker restart")


async def run(*command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_a_job_taken_by_a_killed_process_is_redelivered_to_another_consumer(
    rabbit_queue: AmqpJobQueue, amqp_url: str, queue_name: str
) -> None:
    await rabbit_queue.publish(99)
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CONSUMER_PROCESS),
        amqp_url,
        queue_name,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert doomed.stdout is not None
        line = await asyncio.wait_for(doomed.stdout.readline(), 60)
        assert line.decode().strip() == "took 99 redelivered=False"
    finally:
        doomed.kill()  # SIGKILL: no chance to ack, nack or close anything
        await doomed.wait()
    async with rabbit_queue.consume(prefetch=1) as deliveries:
        delivery = await asyncio.wait_for(anext(deliveries), 30)
        assert (delivery.job_id, delivery.redelivered) == (99, True)
        await delivery.ack()
