"""Child process of the crash test: records trades as fast as it can and prints each record id once
it is acknowledged. `python -m tests.store.crash_child <run>`; settings come from the environment."""

from __future__ import annotations

import asyncio
import sys

from engine.config import load_settings
from engine.store.recorder import TradeRecorder
from tests.store.conftest import entry, exit_


async def main(run: int) -> None:
    # Commit to the store nearly continuously, so that many kills land inside a store transaction.
    recorder = TradeRecorder(load_settings(), backoff=(0.01, 0.2), flush_interval=0.02).start()
    out = sys.stdout
    n = run * 10_000_000
    while True:
        pending = []
        for _ in range(100):
            n += 1
            pending.append(((f"entry:t{n}",), recorder.record_entry(entry(n))))
        n += 1
        async with recorder.transaction():  # entry and exit of one trade: both or neither
            txn = recorder.record_entry(entry(n))
            recorder.record_exit(exit_(n))
        pending.append(((f"entry:t{n}", f"exit:t{n}"), txn))
        for ids, ack in pending:
            await ack
            out.write("".join(f"{i}\n" for i in ids))
        out.flush()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
