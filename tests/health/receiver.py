"""A local webhook receiver (aiohttp on 127.0.0.1): records every JSON body it is sent; it can
answer 500 to the next `fail` posts, or be stopped and started again on the same port."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Receiver:
    path: str = "/services/T000/B000/plantedwebhooksecret"
    port: int = 0
    fail: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post(self.path, self._post)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _post(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.fail > 0:
            self.fail -= 1
            return web.Response(status=500, text="try later")
        self.bodies.append(await request.json())
        return web.Response(text="ok")

    def of(self, component: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies if b.get("component") == component]
