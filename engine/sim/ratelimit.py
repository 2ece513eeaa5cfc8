"""Request-weight and order-count limits (Binance's REQUEST_WEIGHT per IP per minute, ORDERS per
account per 10 s and per minute), on the real clock.

Over the weight limit: HTTP 429, code -1003, `Retry-After` = seconds to the next minute. A client
that keeps calling while limited (more than `ban_after` refused requests in a minute) is banned:
HTTP 418 with `Retry-After` = the ban's remaining seconds."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from engine.sim.errors import BinanceError

MINUTE_MS = 60_000


def weight_of(method: str, path: str, params: Mapping[str, str]) -> int:
    """Binance's documented weights for the served endpoints (1 where not listed)."""
    raw_limit = params.get("limit", "500")
    limit = int(raw_limit) if raw_limit.isdigit() else 500
    if path.endswith("/klines"):
        return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10
    if path.endswith("/depth"):
        return {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10}.get(limit, 20)
    if path.endswith("/ticker/24hr"):
        return 1 if params.get("symbol") else 40
    if path.endswith("/openOrders") or path.endswith("/openAlgoOrders"):
        return 1 if params.get("symbol") else 40
    if path.endswith(("/account", "/positionRisk", "/userTrades", "/balance", "/allOrders", "/allAlgoOrders")):
        return 5
    if path.endswith("/income"):
        return 30
    if path.endswith("/exchangeInfo"):
        return 1
    if path.endswith("/order") and method == "POST":
        return 0
    return 1


@dataclass
class _Window:
    start: int = 0
    used: int = 0
    refused: int = 0


@dataclass
class RateLimiter:
    clock: Callable[[], int]
    weight_limit: int = 2400
    orders_per_10s: int = 300
    orders_per_minute: int = 1200
    ban_after: int = 10
    ban_ms: int = 120_000
    _ips: dict[str, _Window] = field(default_factory=dict)
    _banned: dict[str, int] = field(default_factory=dict)
    _orders: dict[str, list[int]] = field(default_factory=dict)

    def used(self, ip: str) -> int:
        window = self._ips.get(ip)
        now = self.clock()
        return window.used if window and now - window.start < MINUTE_MS else 0

    def charge(self, ip: str, weight: int) -> None:
        """Count the weight or raise the 429/418 answer (with `retry_after` seconds)."""
        now = self.clock()
        until = self._banned.get(ip, 0)
        if now < until:
            raise _limited(418, math.ceil((until - now) / 1000), self.weight_limit)
        window = self._ips.setdefault(ip, _Window())
        if now - window.start >= MINUTE_MS:
            window.start, window.used, window.refused = now // MINUTE_MS * MINUTE_MS, 0, 0
        if window.used + weight > self.weight_limit:
            window.refused += 1
            if window.refused > self.ban_after:
                self._banned[ip] = now + self.ban_ms
                raise _limited(418, math.ceil(self.ban_ms / 1000), self.weight_limit)
            raise _limited(429, max(1, math.ceil((window.start + MINUTE_MS - now) / 1000)), self.weight_limit)
        window.used += weight

    def count_order(self, account: str) -> int:
        """Count one new order; raise -1015 (429) over the order limits. Returns orders in 10 s."""
        now = self.clock()
        times = [t for t in self._orders.get(account, []) if now - t < MINUTE_MS]
        recent = sum(1 for t in times if now - t < 10_000)
        if recent >= self.orders_per_10s or len(times) >= self.orders_per_minute:
            self._orders[account] = times
            raise BinanceError(-1015, f"Too many new orders; current limit is {self.orders_per_10s} orders per "
                                      "10 SECONDS.", status=429, retry_after=10)
        times.append(now)
        self._orders[account] = times
        return recent + 1


def _limited(status: int, retry_after: int, limit: int) -> BinanceError:
    if status == 418:
        return BinanceError(-1003, f"Way too many requests; IP(127.0.0.1) banned for {retry_after} seconds. "
                                   "Please use the websocket for live updates to avoid bans.",
                            status=418, retry_after=retry_after)
    return BinanceError(-1003, status=429, retry_after=retry_after, limit=limit)
