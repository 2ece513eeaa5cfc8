"""`within`: a timeout that never loses a cancel (asyncio.wait_for on Python 3.11 can)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from engine.core.aio import within


async def cancel_as_it_completes(wait: Callable[[Awaitable[bool], float], Awaitable[bool]]) -> bool:
    """Whether a task cancelled in the same loop step as its awaited event is set ends cancelled."""
    event = asyncio.Event()
    task = asyncio.create_task(wait(event.wait(), 10.0))
    await asyncio.sleep(0)          # the task is waiting
    event.set()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return True
    return False


async def test_a_cancel_that_arrives_as_the_awaited_thing_completes_is_kept() -> None:
    assert await cancel_as_it_completes(within)


async def test_timeouts_and_results() -> None:
    assert await within(asyncio.sleep(0, result=7), 1.0) == 7
    with pytest.raises(TimeoutError):
        await within(asyncio.Event().wait(), 0.01)
