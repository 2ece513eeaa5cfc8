"""Reference servers for bench_sim: the floor a simulator endpoint is compared against.

    python -m bench.bare_servers rest PORT DIR   # aiohttp: canned exchangeInfo and order answers
    python -m bench.bare_servers ws PORT FILE    # websockets: sends FILE's frames to every client

The REST handler reads the request and returns fixed bytes; the websocket server waits until
`clients` connections are open, then sends each the same frames (one send loop per connection, so
flow control applies as in the simulator)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path


async def rest(port: int, folder: Path) -> None:
    from aiohttp import web

    info = (folder / "exchangeInfo.json").read_bytes()
    order = (folder / "order.json").read_bytes()

    async def exchange_info(request: web.Request) -> web.Response:
        return web.Response(body=info, content_type="application/json")

    async def new_order(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=order, content_type="application/json")

    async def ping(request: web.Request) -> web.Response:
        return web.Response(body=b"{}", content_type="application/json")

    app = web.Application()
    app.add_routes([web.get("/fapi/v1/exchangeInfo", exchange_info), web.post("/fapi/v1/order", new_order),
                    web.get("/fapi/v1/ping", ping)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


async def ws(port: int, frames_file: Path, clients: int) -> None:
    import websockets

    frames = json.loads(frames_file.read_text())
    connected: list[object] = []
    everyone = asyncio.Event()

    async def handler(conn: websockets.ServerConnection) -> None:
        connected.append(conn)
        if len(connected) >= clients:
            everyone.set()
        await everyone.wait()
        for frame in frames:
            await conn.send(frame)
        await conn.wait_closed()

    async with websockets.serve(handler, "127.0.0.1", port, compression=None):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    kind, port, path = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    if kind == "rest":
        asyncio.run(rest(port, path))
    else:
        asyncio.run(ws(port, path, int(sys.argv[4]) if len(sys.argv) > 4 else 10))
