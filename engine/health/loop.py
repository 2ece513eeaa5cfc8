"""Event-loop lag read from the loop's own polls, without a ticker.

A stalled loop is one that does not come back to poll for I/O and timers: every callback that
became due meanwhile runs late by up to the stall. So the engine's loop is built on a selector
that notes, at each poll, how long the loop was away since the previous one (its busy stretch),
keeping the longest since it was last asked. Every stall is seen, whatever its length, and the
cost is two clock reads per loop iteration; the 1 s ticker it replaces cost ~0.2 ms of CPU per
wake-up on this VM (92 % of the monitor's CPU, bench `health_overhead`).

`new_event_loop()` is the loop factory the composition root runs the engine on; `poll_clock(loop)`
finds the clock of a loop made by it (None for any other loop, where `LoopLag` keeps its ticker).
"""

from __future__ import annotations

import asyncio
import selectors
import time
import weakref
from typing import Any

_CLOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PollClock] = weakref.WeakKeyDictionary()


class PollClock(selectors.DefaultSelector):
    """The platform's default selector, timing the loop between two polls."""

    def __init__(self) -> None:
        super().__init__()
        self._left = time.monotonic()
        self.worst_s = 0.0
        self.polls = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        busy = time.monotonic() - self._left
        if busy > self.worst_s:
            self.worst_s = busy
        self.polls += 1
        try:
            return super().select(timeout)
        finally:
            self._left = time.monotonic()

    def take_ms(self) -> float:
        """The longest busy stretch since the previous call, in ms (the lag a callback could see)."""
        worst, self.worst_s = self.worst_s, 0.0
        return worst * 1000.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A selector event loop on a `PollClock` (`asyncio.Runner(loop_factory=new_event_loop)`)."""
    clock = PollClock()
    loop = asyncio.SelectorEventLoop(clock)
    _CLOCKS[loop] = clock
    return loop


def poll_clock(loop: Any) -> PollClock | None:
    return _CLOCKS.get(loop)
