"""Health monitor benchmarks (issue #16), on a real engine process trading a simulator process.

* health_overhead: the monitor's CPU per hour against the engine's own CPU per hour, live: the
  simulator replays at 1x and the monitor checks every HEALTH_CHECK_INTERVAL (its default, 60 s)
  for WINDOW_S (report; aim < 1 %). The monitor's part is what it accounts for itself
  (`slt_health_cpu_seconds`: every check after its exchange call, and the record tap, by thread CPU
  time, so other tasks never count) plus its event-loop lag clock: the engine's polls per hour (the
  latency component's `loop_polls` at two checks) times the clock's cost per poll, measured in this
  process first (a `PollClock` select against the plain selector's). The engine's part is the engine
  process's CPU (psutil) over the same window, less the monitor's. Nothing scrapes the engine while
  this is measured.
* metrics_scrape: `GET /metrics` p99 while the engine trades (target < 10 ms), a persistent
  connection from this process; reference: `GET /health` p99 on the same server at the same time
  (the floor of an aiohttp answer from memory).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.common import BenchResult, percentile
from bench.servers import REPO, free_port, start
from engine.child import spawn_logged, stop, wait_ready
from engine.health.loop import PollClock

SPEED = 1            # live: a simulated hour is an hour, the monitor at its default interval
WINDOW_S = 120.0
SCRAPES = 600
POLL_CALLS = 200_000   # select(0) calls per round, to price the lag clock
POLL_ROUNDS = 5


def run() -> list[BenchResult]:
    return asyncio.run(_run())


async def _run() -> list[BenchResult]:
    per_poll_s = _poll_clock_cost()
    sim_port, health_port = free_port(), free_port()
    url = f"http://127.0.0.1:{sim_port}"
    sim = start(["-m", "engine.sim", "--port", str(sim_port), "--speed", str(SPEED)], ready_url=url + "/fapi/v1/ping")
    tmp = Path(tempfile.mkdtemp(prefix="bench-health-"))
    engine: subprocess.Popen[Any] | None = None
    try:
        engine = _start_engine(url, health_port, tmp)
        base = f"http://127.0.0.1:{health_port}"
        async with aiohttp.ClientSession() as http:
            overhead = await _overhead(http, base, engine.pid, per_poll_s)
            scrape = await _scrape(http, base)
        return [overhead, scrape]
    finally:
        if engine is not None:
            stop(engine)
        stop(sim)
        shutil.rmtree(tmp, ignore_errors=True)


def _start_engine(sim_url: str, health_port: int, tmp: Path) -> subprocess.Popen[Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLT_", "BOOTSTRAP_", "HEALTH_"))}
    env.update({"SLT_DATA_DIR": str(tmp / "data"), "SLT_MARKET_DATA_DIR": str(REPO / "data" / "market"),
                "SLT_EXCHANGE": "sim", "SLT_EXCHANGE_REST_URL": sim_url,
                "SLT_EXCHANGE_WS_URL": sim_url.replace("http", "ws"), "SLT_HEALTH_PORT": str(health_port),
                "SLT_LOG_LEVEL": "warning",
                # admit every bootstrap signal, so the engine trades while it is measured
                "BOOTSTRAP_MIN_CONFIDENCE": "0", "BOOTSTRAP_MIN_WIN_PROBABILITY": "0"})
    engine = spawn_logged([sys.executable, "-m", "engine"], tmp / "engine.log", cwd=REPO, env=env)
    health = f"http://127.0.0.1:{health_port}/health"

    def checked() -> bool:
        try:
            with urllib.request.urlopen(health, timeout=1) as r:
                return int(json.loads(r.read()).get("checks", 0)) >= 1
        except urllib.error.HTTPError as answer:   # 503: starting, or not healthy: checks run either way
            return int(json.loads(answer.read()).get("checks", 0)) >= 1
        except OSError:
            return False

    try:
        wait_ready(engine, checked, what="the engine's health checks", timeout=120)
    except BaseException:
        stop(engine)
        raise
    return engine


async def _own_cpu(http: aiohttp.ClientSession, base: str) -> float:
    async with http.get(base + "/metrics") as r:
        for line in (await r.text()).splitlines():
            if line.startswith("slt_health_cpu_seconds_total "):
                return float(line.split()[1])
    raise RuntimeError("no slt_health_cpu_seconds_total in /metrics")


async def _health(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.get(base + "/health") as r:
        return dict(await r.json())


def _polls(report: dict[str, Any]) -> tuple[int, int]:
    """(taken_at ms, the loop's polls since start) of the engine's latest check."""
    return int(report["taken_at"]), int(report["components"]["latency"]["metrics"]["loop_polls"])


async def _overhead(http: aiohttp.ClientSession, base: str, pid: int, per_poll_s: float) -> BenchResult:
    process = psutil.Process(pid)

    def engine_cpu() -> float:
        times = process.cpu_times()
        return times.user + times.system

    own0, cpu0, t0 = await _own_cpu(http, base), engine_cpu(), time.monotonic()
    first = _polls(await _health(http, base))
    await asyncio.sleep(WINDOW_S)
    own1, cpu1, t1 = await _own_cpu(http, base), engine_cpu(), time.monotonic()
    last = _polls(await _health(http, base))
    hours = (t1 - t0) * SPEED / 3600
    polls_per_hour = (last[1] - first[1]) / max(1e-9, (last[0] - first[0]) / 3_600_000)
    clock_per_hour = polls_per_hour * per_poll_s
    clock_in_window = clock_per_hour * (t1 - t0) / 3600
    monitor = (own1 - own0) / hours + clock_per_hour
    engine = (cpu1 - cpu0 - (own1 - own0) - clock_in_window) / hours
    return BenchResult("health_overhead", monitor, "cpu_s/sim_h", "engine CPU per hour without the monitor",
                       engine, higher_is_better=False, target="< 0.01",
                       extra={"speed": SPEED, "simulated_hours": round(hours, 3), "check_interval_s": 60,
                              "monitor_checks_and_tap_cpu_s": round(own1 - own0, 6),
                              "loop_polls_per_hour": round(polls_per_hour),
                              "lag_clock_us_per_poll": round(per_poll_s * 1e6, 3),
                              "lag_clock_cpu_s_per_hour": round(clock_per_hour, 4),
                              "engine_cpu_s": round(cpu1 - cpu0, 3)})


async def _scrape(http: aiohttp.ClientSession, base: str) -> BenchResult:
    metrics_ms: list[float] = []
    health_ms: list[float] = []
    for _ in range(SCRAPES):
        for path, samples in (("/metrics", metrics_ms), ("/health", health_ms)):
            began = time.perf_counter()
            async with http.get(base + path) as r:
                await r.read()
            samples.append((time.perf_counter() - began) * 1000)
        await asyncio.sleep(0.02)
    return BenchResult("metrics_scrape", percentile(metrics_ms, 99), "ms", "GET /health p99, same server, same time",
                       percentile(health_ms, 99), higher_is_better=False, target="p99 < 10 ms",
                       extra={"scrapes": SCRAPES, "metrics_p50_ms": round(percentile(metrics_ms, 50), 3),
                              "health_p50_ms": round(percentile(health_ms, 50), 3)})


def _poll_clock_cost() -> float:
    """CPU seconds the lag clock adds to one poll: `select(0)` on a PollClock against the plain
    default selector, POLL_CALLS each, alternating for POLL_ROUNDS; the median difference."""
    import selectors

    def cost(selector: selectors.BaseSelector) -> float:
        with selector:
            began = time.thread_time()
            for _ in range(POLL_CALLS):
                selector.select(0)
            return (time.thread_time() - began) / POLL_CALLS

    differences = sorted(cost(PollClock()) - cost(selectors.DefaultSelector()) for _ in range(POLL_ROUNDS))
    return max(0.0, differences[len(differences) // 2])
