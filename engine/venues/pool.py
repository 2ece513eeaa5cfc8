"""One `BinanceVenue` per account, behind the multi-account `AccountVenue` port.

Venues are created and started lazily, once each (concurrent first uses share one start), so a
fan-out over 50 accounts opens 50 ccxt clients in parallel and later orders reuse them. An
account whose venue fails to start (bad key, exchange down) fails only its own orders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from engine.accounts.account import Account
from engine.core.clock import Clock
from engine.core.errors import OrderNotFound
from engine.core.types import Order, Position
from engine.venues.binance import BinanceVenue
from engine.venues.retry import RetryPolicy


class VenuePool:
    def __init__(self, *, rest_url: str, ws_url: str, clock: Clock | None = None,
                 policy: RetryPolicy | None = None, rate_limit: bool = True) -> None:
        self.rest_url, self.ws_url = rest_url, ws_url
        self.clock, self.policy, self.rate_limit = clock, policy, rate_limit
        self._venues: dict[str, asyncio.Task[BinanceVenue]] = {}

    async def venue(self, account: Account) -> BinanceVenue:
        task = self._venues.get(account.id)
        if task is None or (task.done() and task.exception() is not None):
            task = self._venues[account.id] = asyncio.ensure_future(self._start(account))
        return await asyncio.shield(task)

    async def _start(self, account: Account) -> BinanceVenue:
        venue = BinanceVenue(account=account.id, rest_url=self.rest_url, ws_url=self.ws_url,
                             api_key=account.api_key, api_secret=account.api_secret, clock=self.clock,
                             policy=self.policy, rate_limit=self.rate_limit)
        try:
            await venue.start()
        except BaseException:
            await venue.close()
            raise
        return venue

    # ---- AccountVenue ------------------------------------------------------------------------
    async def submit_order(self, account: Account, order: Order) -> Order:
        return await (await self.venue(account)).create_order(order)

    async def cancel_all_orders(self, account: Account, symbol: str) -> int:
        venue = await self.venue(account)
        cancelled = 0
        for order in await venue.fetch_open_orders(symbol):
            try:
                await venue.cancel_order(symbol, order.client_order_id,
                                         conditional=(order.exchange_order_id or "").startswith("algo:"))
                cancelled += 1
            except OrderNotFound:
                pass  # filled or cancelled meanwhile
        return cancelled

    # ---- reads across accounts ---------------------------------------------------------------
    async def positions(self, accounts: Iterable[Account]) -> list[Position]:
        """Every account's open positions, fetched concurrently."""
        async def one(account: Account) -> list[Position]:
            return await (await self.venue(account)).fetch_positions()
        rows = await asyncio.gather(*(one(a) for a in accounts))
        return [p for account_rows in rows for p in account_rows if p.quantity != 0]

    async def close(self) -> None:
        venues = [t.result() for t in self._venues.values() if t.done() and t.exception() is None]
        for task in self._venues.values():
            if not task.done():
                task.cancel()
        await asyncio.gather(*(v.close() for v in venues), return_exceptions=True)
        self._venues.clear()
