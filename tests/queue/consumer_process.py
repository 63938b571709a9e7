"""A job consumer in a process of its own, for the process-kill test: it takes one delivery,
prints it, and then waits, never settling it, until it is killed.

    python tests/queue/consumer_process.py AMQP_URL QUEUE_NAME
"""

from __future__ import annotations

import asyncio
import sys

from luna.queue.amqp import amqp_queue


async def take_one_and_hang(amqp_url: str, queue_name: str) -> None:
    async with (
        amqp_queue(amqp_url, queue_name=queue_name, connection_name="luna-test doomed") as queue,
        queue.consume(prefetch=1) as deliveries,
    ):
        delivery = await anext(deliveries)
        print(f"took {delivery.job_id} redelivered={delivery.redelivered}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(take_one_and_hang(sys.argv[1], sys.argv[2]))
