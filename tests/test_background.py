"""Periodic chores stop when their owner decides so, even when a library turns the
cancellation into its own error or swallows it whole."""

from __future__ import annotations

import asyncio

from luna.background import every
from luna.tasks import StopDecision, cancel_until_done


async def test_a_chore_that_turns_cancellation_into_an_error_still_stops(caplog):
    started = asyncio.Event()
    stop = StopDecision()

    async def chore() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            # What some client libraries do while their connection is being torn down.
            raise ConnectionError("channel closed") from None

    task = asyncio.create_task(every(0.01, chore, name="test chore", stop=stop))
    await started.wait()
    stop.decide()
    await asyncio.wait_for(cancel_until_done(task), timeout=5)
    assert task.done()
    assert "failed this round" not in caplog.text  # a stop, not a failure


async def test_an_ordinary_failure_is_logged_and_the_chore_runs_again(caplog):
    runs = 0
    third_run = asyncio.Event()
    stop = StopDecision()

    async def chore() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            third_run.set()
        raise RuntimeError("database blinked")

    task = asyncio.create_task(every(0.01, chore, name="flaky chore", stop=stop))
    await asyncio.wait_for(third_run.wait(), timeout=5)
    stop.decide()
    await cancel_until_done(task)
    assert "flaky chore failed this round" in caplog.text


async def test_a_chore_that_swallows_cancellation_whole_still_stops():
    started = asyncio.Event()
    stop = StopDecision()

    async def chore() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return  # as Python 3.11's wait_for may do when the operation completes meanwhile

    task = asyncio.create_task(every(3600, chore, name="test chore", stop=stop))
    await started.wait()
    stop.decide()
    await asyncio.wait_for(cancel_until_done(task), timeout=5)
    assert task.done()


async def test_a_chore_whose_task_group_failed_keeps_running():
    """CPython 3.11 leaves `cancelling() == 1` after a TaskGroup whose child failed while the
    parent waited; that leftover is not a stop, so the chore runs on."""
    runs = 0
    stop = StopDecision()

    async def fail_soon() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("storage blinked")

    async def chore() -> None:
        nonlocal runs
        runs += 1
        async with asyncio.TaskGroup() as group:
            group.create_task(fail_soon())
            group.create_task(asyncio.sleep(1))

    task = asyncio.create_task(every(0.01, chore, name="chore", stop=stop))
    await asyncio.sleep(0.5)
    assert runs >= 3 and not task.done()
    stop.decide()
    await asyncio.wait_for(cancel_until_done(task), timeout=5)
