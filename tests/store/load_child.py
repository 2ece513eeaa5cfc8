"""Child processes of the concurrency test, run for a number of seconds, then print a JSON summary.

    python -m tests.store.load_child recorder <seconds>   # trades through the recorder
    python -m tests.store.load_child writer <seconds>     # candles written straight to the store
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from engine.config import load_settings
from engine.core.types import Candle
from engine.store import open_store
from engine.store.recorder import TradeRecorder
from engine.store.writer import write_records
from tests.store.conftest import T0, entry, exit_


async def recorder(seconds: float) -> dict[str, int]:
    entries = exits = 0
    async with TradeRecorder(load_settings()) as rec:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            acks = [rec.record_entry(entry(entries + i)) for i in range(40)]
            acks += [rec.record_exit(exit_(entries + i)) for i in range(0, 40, 2)]
            for ack in acks:
                await ack
            entries, exits = entries + 40, exits + 20
            await asyncio.sleep(0.04)
        await rec.flush()
        failures = rec.stats().flush_failures
    return {"entries": entries, "exits": exits, "flush_failures": failures}


def writer(seconds: float) -> dict[str, int]:
    lake = open_store(load_settings())
    written = commits = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        batch = [Candle("ETHUSDT", "1m", T0 + (written + i) * 60_000, T0 + (written + i) * 60_000 + 59_999,
                        2000.0, 2001.0, 1999.0, 2000.5, 5.0) for i in range(25)]
        written += write_records(lake, batch).inserted
        commits += 1
        time.sleep(0.1)
    lake.close()
    return {"candles": written, "commits": commits}


if __name__ == "__main__":
    mode, seconds = sys.argv[1], float(sys.argv[2])
    result = asyncio.run(recorder(seconds)) if mode == "recorder" else writer(seconds)
    print(json.dumps(result), flush=True)
