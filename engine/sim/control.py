"""A small async client for the simulator's `/admin/` API, for tests and tools:

    async with SimControl("http://127.0.0.1:8765") as ctl:
        await ctl.pause(); await ctl.step(bars=1)
        await ctl.fault(kind="http_error", path="/fapi/v1/order", count=1)
        print((await ctl.account("slt-demo-key"))["wallet"])
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import aiohttp


class SimControl:
    def __init__(self, rest_url: str) -> None:
        self.base = rest_url.rstrip("/") + "/admin"
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SimControl:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType] | Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                      params: dict[str, str] | None = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.request(method, self.base + path, json=body, params=params) as resp:
            if resp.status >= 400:
                raise RuntimeError(f"{method} /admin{path}: HTTP {resp.status}: {await resp.text()}")
            return await resp.json()

    async def state(self) -> dict[str, Any]:
        return await self.request("GET", "/state")

    async def pause(self) -> dict[str, Any]:
        return await self.request("POST", "/clock/pause")

    async def resume(self) -> dict[str, Any]:
        return await self.request("POST", "/clock/resume")

    async def speed(self, speed: float | str) -> dict[str, Any]:
        return await self.request("POST", "/clock/speed", {"speed": speed})

    async def step(self, *, steps: int | None = None, bars: int | None = None, until: int | None = None) -> dict[str, Any]:
        body = {k: v for k, v in (("steps", steps), ("bars", bars), ("until", until)) if v is not None}
        return await self.request("POST", "/clock/step", body)

    async def candles(self, symbol: str, interval: str = "1m", *, history: bool = False) -> list[list[Any]]:
        params = {"symbol": symbol, "interval": interval, "history": "1" if history else "0"}
        return (await self.request("GET", "/candles", params=params))["candles"]

    async def account(self, key: str) -> dict[str, Any]:
        return await self.request("GET", f"/accounts/{key}")

    async def accounts(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/accounts")

    async def add_account(self, key: str, secret: str, usdt: str | int = 10_000) -> dict[str, Any]:
        return await self.request("POST", "/accounts", {"key": key, "secret": secret, "usdt": str(usdt)})

    async def set_price(self, symbol: str, price: float | None = None, *, mark: float | None = None,
                        prices: list[float] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"symbol": symbol, "price": price, "mark": mark}
        if prices is not None:
            body["prices"] = prices
        return await self.request("POST", "/price", body)

    async def fault(self, **spec: Any) -> dict[str, Any]:
        return await self.request("POST", "/faults", spec)

    async def faults(self) -> dict[str, Any]:
        return await self.request("GET", "/faults")

    async def clear_faults(self, fault_id: int | None = None) -> dict[str, Any]:
        return await self.request("DELETE", f"/faults/{fault_id}" if fault_id else "/faults")

    async def restart(self, down: float = 1.0, mode: str = "abort") -> dict[str, Any]:
        return await self.request("POST", "/restart", {"down": down, "mode": mode})

    async def connections(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/connections")
