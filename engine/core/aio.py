"""asyncio helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float | None) -> T:
    """`asyncio.wait_for` without its Python 3.11 flaw: a cancel that arrives just as the awaited
    thing completes is dropped there (gh-86296), so the cancelled task runs on and whoever awaits
    it (a shutdown) waits forever. `asyncio.timeout` keeps the cancel. Raises TimeoutError."""
    async with asyncio.timeout(seconds):
        return await awaitable
