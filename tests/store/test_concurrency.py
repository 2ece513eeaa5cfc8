"""Concurrency test: for 30 s the recorder process, a second process writing other rows, and a third
running `slt sql` queries in a loop all succeed; the counts add up; no reader waits more than 1 s
for the lake: attaching it plus running the query, measured by `slt sql --timing` for every query
(loading the extensions before that is CPU work, not waiting, and is reported separately)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from engine.config import Settings
from engine.store import connect, reader
from tests.conftest import REPO

SECONDS = 30.0


def env_for(settings: Settings) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("SLT_")}
    return {**keep, "SLT_DATA_DIR": str(settings.data_dir), "SLT_LOG_LEVEL": "warning"}


def summaries(children: dict[str, subprocess.Popen[str]]) -> dict[str, dict[str, int]]:
    """Each load child's JSON summary, once it exited cleanly."""
    results = {}
    for mode, child in children.items():
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, f"{mode}: {err}"
        results[mode] = json.loads(out.strip().splitlines()[-1])
    return results


def assert_nothing_lost_or_doubled(settings: Settings, results: dict[str, dict[str, int]]) -> dict[str, int]:
    """The store holds exactly what the recorder and the writer child acknowledged, each id once."""
    with connect(settings, read_only=True) as lake:
        final = reader.query(lake, "SELECT (SELECT count(*) FROM lake.trade_entries) AS e, "
                                   "(SELECT count(DISTINCT record_id) FROM lake.trade_entries) AS de, "
                                   "(SELECT count(*) FROM lake.trade_exits) AS x, "
                                   "(SELECT count(*) FROM lake.candles) AS c")[0]
    assert final == {"e": results["recorder"]["entries"], "de": results["recorder"]["entries"],
                     "x": results["recorder"]["exits"], "c": results["writer"]["candles"]}
    return final


@pytest.mark.slow
@pytest.mark.integration  # child processes (the recorder load, kill -9)
def test_recorder_writer_and_sql_readers_at_once(lake_settings: Settings) -> None:
    env = env_for(lake_settings)
    children = {mode: subprocess.Popen([sys.executable, "-m", "tests.store.load_child", mode, str(SECONDS)], cwd=REPO,
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for mode in ("recorder", "writer")}
    waits: list[float] = []
    loads: list[float] = []
    walls: list[float] = []
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + SECONDS
    queries = ["SELECT (SELECT count(*) FROM trade_entries) AS e, (SELECT count(*) FROM candles) AS c",
               "SELECT symbol, count(*) AS trades, sum(net_pnl) AS pnl FROM trades GROUP BY symbol"]
    while time.monotonic() < deadline:
        query = queries[len(walls) % 2]
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "engine.cli", "sql", "--csv", "--timing", query], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=60)
        walls.append(time.monotonic() - started)
        assert done.returncode == 0, done.stderr
        timing = re.search(r"load_ms=([\d.]+) attach_ms=([\d.]+) query_ms=([\d.]+)", done.stderr)
        assert timing, done.stderr
        loads.append(float(timing.group(1)) / 1000)
        waits.append((float(timing.group(2)) + float(timing.group(3))) / 1000)
        if query is queries[0]:
            entries, candles = map(int, done.stdout.splitlines()[1].split(","))
            seen.append((entries, candles))
    results = summaries(children)
    final = assert_nothing_lost_or_doubled(lake_settings, results)
    assert results["writer"]["candles"] == 25 * results["writer"]["commits"]
    assert len(seen) >= 5 and seen == sorted(seen)  # readers see commits in order, never going back
    assert seen[-1][0] <= final["e"] and seen[-1][1] <= final["c"]
    print(f"\n{len(waits)} slt sql queries: lake wait max {max(waits) * 1000:.0f} ms, "
          f"median {sorted(waits)[len(waits) // 2] * 1000:.0f} ms; extension load max {max(loads) * 1000:.0f} ms; "
          f"process wall max {max(walls):.2f} s; {results}")
    assert max(waits) < 1.0, f"a reader waited {max(waits):.2f} s for the lake"
