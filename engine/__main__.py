"""`python -m engine`: the streaming engine. Settings, signals and exit codes here; the parts are
built by the composition root (`engine.wiring.build_engine`) and run by `engine.runtime.Engine`
until SIGTERM / Ctrl-C; beside it the health monitor (engine/health) on /health and /metrics, fed by a
tap on the recorder.

With `SLT_EXCHANGE=sim` and no key configured it trades the simulator's public demo account.
Exit codes: 0 after a clean stop, 1 when start-up failed (the reason is logged), 2 for bad settings.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # before the heavy imports: start-up is measured from here

import asyncio
import logging
import signal
import sys

from engine.config import ConfigError, Settings, load_settings
from engine.core.errors import SltError
from engine.health.loop import new_event_loop
from engine.logs import setup_logging

log = logging.getLogger("engine")


async def serve(settings: Settings) -> int:
    from engine.health.service import HealthService
    from engine.store import init_store
    from engine.store.recorder import TradeRecorder
    from engine.wiring import build_engine

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.to_thread(init_store, settings)
    recorder = TradeRecorder(settings).start()
    health = HealthService(settings)
    engine = build_engine(settings, health.tap(recorder), started=STARTED)
    await health.start(engine)
    try:
        await engine.run(stop)
        return 0
    except SltError as exc:
        log.error("engine stopped: %s", exc)
        return 1
    finally:
        await health.stop()
        await asyncio.gather(*(d.venue.close() for d in engine.p.desks))
        if engine.p.risk_store is not None:
            engine.p.risk_store.close()
        await recorder.aclose()


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level)
    try:
        # the loop's polls time its lag for the health monitor (engine/health/loop.py): no ticker
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            return runner.run(serve(settings))
    except ConfigError as exc:
        print(f"engine: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
