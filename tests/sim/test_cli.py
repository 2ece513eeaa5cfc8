"""`python -m engine.sim` as a process: banner, health endpoint, accounts, clean stop."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


async def test_process_prints_urls_and_keys_and_serves(sim_process_factory: Any) -> None:
    sim = sim_process_factory("--paused", "--account", "alice-key:alice-secret:500", "--symbols", "BTCUSDT,ETHUSDT")
    banner = [sim.process.stdout.readline() for _ in range(4)]
    assert sim.rest_url in banner[0] and sim.ws_url in banner[0]
    assert "slt-demo-key" in banner[2] and "alic..." in banner[3] and "alice-secret" not in "".join(banner)
    state = await sim.control.state()
    assert state["paused"] and state["symbols"] == ["BTCUSDT", "ETHUSDT"]
    ex = sim.ccxt(key="alice-key", secret="alice-secret")
    assert (await ex.fetch_balance())["USDT"]["total"] == 500
    await sim.aclose()
    sim.process.send_signal(signal.SIGTERM)
    assert sim.process.wait(timeout=10) == 0


@pytest.mark.parametrize("args, message", [
    (["--speed", "fast"], "speed"),
    (["--account", "no-secret"], "KEY:SECRET"),
    (["--source", "synthetic", "--regimes", "sideways:3"], "bad regime segment"),
    (["--symbols", "DOGEUSDT"], "no perpetual kline files for DOGEUSDT"),
])
def test_bad_options_name_the_problem(args: list[str], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "engine.sim", "--port", "0", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and message in done.stderr
