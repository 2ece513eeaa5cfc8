"""Servers for bench_feed, each run in its own process so the client side is measured alone.

    python -m bench.feed_servers blast PORT FRAMES_FILE   # websockets server; every client gets FRAMES_FILE
    python -m bench.feed_servers sim PORT STAMPS_FILE SPEED   # the simulator, stamping closed klines

`blast`: the frames are pre-framed (RFC 6455 text frames, unmasked, as a server sends them) into one
byte string, which is written to each connection's transport in 64 KB chunks with flow control, so
the sender costs next to nothing and the client's receive path is what is measured. The websockets
server still does the handshake and answers pings.

`sim`: the simulator (paused; resumed over /admin) whose hub records `time.time_ns()` when it
publishes each closed kline (the frame leaving the simulator); on SIGTERM it writes
{"<stream> <open time>": ns} to STAMPS_FILE.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any


async def blast(port: int, frames_file: Path) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    blob = frames_file.read_bytes()

    async def handler(ws: ServerConnection) -> None:
        transport = ws.transport
        for i in range(0, len(blob), 1 << 16):
            transport.write(blob[i:i + (1 << 16)])
            while transport.get_write_buffer_size() > (1 << 20):
                await asyncio.sleep(0.0005)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", port, compression=None):
        print("ready", flush=True)
        await asyncio.Event().wait()


async def stamped_sim(port: int, stamps_file: Path, speed: float) -> None:
    from engine.sim.options import SimOptions
    from engine.sim.server import Simulator

    repo = Path(__file__).resolve().parent.parent
    sim = Simulator(SimOptions(port=port, speed=speed, paused=True, data_dir=repo / "data" / "market",
                               ws_max_queue=1_000_000))
    stamps: dict[str, int] = {}
    publish = sim.venue.hub.publish

    def stamping(stream: str, payload: Any) -> None:
        if isinstance(payload, dict) and payload.get("e") == "kline" and payload["k"]["x"]:
            stamps[f"{stream} {payload['k']['t']}"] = time.time_ns()
        publish(stream, payload)

    sim.venue.hub.publish = stamping  # type: ignore[method-assign]
    sim.replay.hub = sim.venue.hub
    await sim.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    stamps_file.write_text(json.dumps(stamps))
    await sim.stop()


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "blast":
        asyncio.run(blast(port, Path(sys.argv[3])))
    else:
        asyncio.run(stamped_sim(port, Path(sys.argv[3]), float(sys.argv[4])))
