"""Crash test: a child records trades as fast as it can and prints each id once acknowledged; it is
killed with SIGKILL at random moments, 24 times, and restarted each time. Afterwards every
acknowledged id is in the store exactly once, and no transaction is half there."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from engine.config import Settings
from engine.store import connect, reader
from engine.store.recorder import TradeRecorder
from tests.conftest import REPO

KILLS = 24


def child_env(settings: Settings) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("SLT_")}
    return {**keep, "SLT_DATA_DIR": str(settings.data_dir), "SLT_LOG_LEVEL": "warning"}


@pytest.mark.slow
@pytest.mark.integration  # child processes (the recorder load, kill -9)
def test_every_acknowledged_record_survives_kill_9(lake_settings: Settings) -> None:
    rng = random.Random(20240502)
    acked: set[str] = set()
    kills_while_recording = 0
    for run in range(1, KILLS + 1):
        child = subprocess.Popen([sys.executable, "-m", "tests.store.crash_child", str(run)], cwd=REPO,
                                 env=child_env(lake_settings), stdout=subprocess.PIPE, text=True)
        first = threading.Event()
        lines: list[str] = []

        def drain(stream=child.stdout, out=lines, seen=first) -> None:  # type: ignore[no-untyped-def]
            for line in stream:
                out.append(line.strip())
                seen.set()

        reader_thread = threading.Thread(target=drain, daemon=True)
        reader_thread.start()
        assert first.wait(60), f"run {run}: the child acknowledged nothing"
        time.sleep(rng.uniform(0.0, 1.5))
        kills_while_recording += child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        reader_thread.join(10)
        assert child.stdout is not None
        child.stdout.close()
        acked.update(lines)
    assert kills_while_recording == KILLS

    with TradeRecorder(lake_settings) as recorder:  # replays what the last child left behind
        recorder.flush().result(120)
    with connect(lake_settings, read_only=True) as lake:
        entries = reader.query(lake, "SELECT record_id, count(*) AS n FROM lake.trade_entries GROUP BY record_id")
        exits = reader.query(lake, "SELECT record_id, count(*) AS n FROM lake.trade_exits GROUP BY record_id")
    stored = {r["record_id"]: r["n"] for r in entries + exits}
    missing = acked - stored.keys()
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    assert all(n == 1 for n in stored.values()), "a record id was stored twice"
    trades_with_exit = {r[len("exit:"):] for r in stored if r.startswith("exit:")}
    assert all(f"entry:{t}" in stored for t in trades_with_exit), "half a transaction was stored"
    assert len(acked) > KILLS * 100
    print(f"\n{len(acked)} acknowledged records across {KILLS} kill -9s, {len(stored)} stored, none lost or doubled")
