"""One account's trading parts: its venue (inside the order manager), books and order manager, its
portfolio (wallet, valuation), its account sync and its user-data stream.

The engine holds one desk per account (`SLT_ACCOUNTS`, or the single account `main`). Desks share
nothing that can fail together: each has its own ccxt client, listen key, books and retry state,
and every client order id carries the account, so one account's bad key, margin or exchange
errors stay its own. A desk that fails at start is reported and left out; the others trade.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from engine.accounts.account import AccountGroup
from engine.execution.manager import OrderManager
from engine.execution.portfolio import Portfolio
from engine.execution.sync import AccountSync


class StreamPort(Protocol):
    """The user-data stream as the engine drives it (`engine.feeds.user_stream.UserStream`)."""

    connected: Any

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Desk:
    account: str
    manager: OrderManager
    portfolio: Portfolio
    sync: AccountSync
    user_stream: StreamPort
    weight: Decimal = Decimal(1)
    group: AccountGroup = AccountGroup.NEUTRAL
    failed: str = ""          # why this account is not trading ("" while it is)
    closed_trades: int = 0

    @property
    def venue(self) -> Any:
        return self.manager.venue

    @property
    def margin_used(self) -> Decimal:
        """Margin its open positions hold: sum of |quantity| x price / leverage (engine's books)."""
        total = Decimal(0)
        for book in self.manager.books.values():
            holding = book.holding()
            if holding.quantity:
                price = self.portfolio.price(book.symbol, self.manager.clock.now_ms()) or holding.entry_price
                total += abs(holding.quantity) * price / max(1, book.leverage)
        return total
