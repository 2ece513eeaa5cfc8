"""Market observations other than candles: mark price, trades and best bid/ask.

The mark price values positions (unrealised PnL), so it is exact (`Decimal`); trade and book
prices feed the live price and PnL fallbacks and are exact as well."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from engine.core.types import Side


class MarkPrice(msgspec.Struct, frozen=True):
    symbol: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    next_funding_time: int
    event_time: int
    received_time: int = 0


class AggTrade(msgspec.Struct, frozen=True):
    symbol: str
    trade_id: int
    price: Decimal
    quantity: Decimal
    taker_side: Side  # buyer-is-maker means the taker sold
    trade_time: int
    event_time: int
    received_time: int = 0


class BookTicker(msgspec.Struct, frozen=True):
    symbol: str
    bid_price: Decimal
    bid_quantity: Decimal
    ask_price: Decimal
    ask_quantity: Decimal
    event_time: int
    received_time: int = 0

    @property
    def mid(self) -> Decimal:
        return (self.bid_price + self.ask_price) / 2
