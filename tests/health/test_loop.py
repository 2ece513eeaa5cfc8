"""Event-loop lag from the loop's own polls (engine/health/loop.py): a blocking callback of any
length is seen in full, the reading resets when taken, and other loops keep the ticker."""

from __future__ import annotations

import asyncio
import time

from engine.health.loop import new_event_loop, poll_clock
from engine.health.probes import LoopLag


async def _block(seconds: float) -> None:
    await asyncio.sleep(0)
    time.sleep(seconds)      # a callback that never yields: the stall
    await asyncio.sleep(0)   # the loop polls again after it


def test_the_engines_loop_sees_every_stall_and_resets_when_taken() -> None:
    async def main() -> tuple[float, float, float, int, bool]:
        lag = LoopLag()
        lag.start()
        assert lag.clock is poll_clock(asyncio.get_running_loop()) and lag.clock is not None
        polls = lag.clock.polls
        await _block(0.05)   # far shorter than the 1 s ticker, which could miss it
        short = lag.take()
        again = lag.take()   # no poll in between: nothing new
        await _block(0.3)
        longer = lag.take()
        await lag.stop()
        return short, again, longer, lag.clock.polls - polls, lag._task is None

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        short, again, longer, polls, no_ticker = runner.run(main())
    assert short >= 50 and again == 0.0 and longer >= 300
    assert polls >= 2 and no_ticker


async def test_another_loop_keeps_the_ticker() -> None:
    assert poll_clock(asyncio.get_running_loop()) is None
    lag = LoopLag(tick_s=0.01)
    lag.start()
    try:
        assert lag.clock is None and lag._task is not None
        await _block(0.05)
        await asyncio.sleep(0.03)   # the ticker wakes after the stall and notes it
        assert lag.take() > 0
    finally:
        await lag.stop()
