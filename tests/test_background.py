"""Periodic chores stop when told to, even when a library turns cancellation into its error."""

from __future__ import annotations

import asyncio

from luna.background import every


async def test_a_chore_that_turns_cancellation_into_an_error_still_stops():
    started = asyncio.Event()

    async def chore() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            # What some client libraries do while their connection is being torn down.
            raise ConnectionError("channel closed") from None

    task = asyncio.create_task(every(0.01, chore, name="test chore"))
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()


async def test_an_ordinary_failure_is_logged_and_the_chore_runs_again(caplog):
    runs = 0
    third_run = asyncio.Event()

    async def chore() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            third_run.set()
        raise RuntimeError("database blinked")

    task = asyncio.create_task(every(0.01, chore, name="flaky chore"))
    await asyncio.wait_for(third_run.wait(), timeout=5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert "flaky chore failed this round" in caplog.text


async def test_a_chore_that_swallows_cancellation_whole_still_stops():
    started = asyncio.Event()

    async def chore() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return  # as Python 3.11's wait_for may do when the operation completes meanwhile

    task = asyncio.create_task(every(3600, chore, name="test chore"))
    await started.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()
