"""DuckLake maintenance (the store-maintenance flow's work) on real lake files: small files merged,
rows unchanged, time travel inside the retention window intact, old snapshots expired; and, with a
recorder, a second writer and `slt sql` readers running, no row lost or doubled and no reader error."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest

from engine.config import Settings
from engine.core.types import Candle
from engine.store import open_store, reader
from engine.store.maintenance import maintain, summary
from engine.store.writer import write_records
from tests.conftest import REPO
from tests.store.conftest import T0
from tests.store.test_concurrency import assert_nothing_lost_or_doubled, env_for, summaries


def _candles(start: int, n: int) -> list[Candle]:
    return [Candle("BTCUSDT", "1m", T0 + i * 60_000, T0 + i * 60_000 + 59_999, 100.0, 101.0, 99.0, 100.5, 1.0)
            for i in range(start, start + n)]


def _count(lake, at: int | None = None) -> int:  # type: ignore[no-untyped-def]
    when = f" AT (VERSION => {at})" if at is not None else ""
    return int(reader.query(lake, f"SELECT count(*) AS n FROM lake.candles{when}")[0]["n"])


def test_small_files_are_merged_rows_kept_and_time_travel_works_inside_the_window(lake_settings: Settings) -> None:
    with open_store(lake_settings) as lake:
        for commit in range(30):  # 30 commits of 100 rows: more than DuckLake inlines, so 30 files
            write_records(lake, _candles(commit * 100, 100))
        snapshot_at_1000 = int(lake.con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('lake')"
                                                ).fetchone()[0]) - 20  # type: ignore[index]
        rows_then = _count(lake, snapshot_at_1000)
        run = maintain(lake, retention=timedelta(days=30), grace=timedelta(0))
        assert run.before.tables["candles"][0] == 30 and run.after.tables["candles"][0] == 1
        assert run.files_merged == 30 and run.files_deleted >= 30 and run.snapshots_expired == 0
        assert run.after.files_on_disk < run.before.files_on_disk
        assert _count(lake) == 3000 and _count(lake, snapshot_at_1000) == rows_then  # time travel inside the window
        rows = {r["table"]: r for r in summary(run)}
        assert rows["candles"]["files before"] == 30 and rows["candles"]["files after"] == 1

        run = maintain(lake, retention=timedelta(microseconds=1), grace=timedelta(0))  # everything is old now
        assert run.snapshots_expired > 0 and run.after.snapshots == 1 and _count(lake) == 3000


def test_a_retention_that_is_not_positive_is_refused(lake_settings: Settings) -> None:
    with open_store(lake_settings) as lake, pytest.raises(ValueError, match="retention must be positive"):
        maintain(lake, retention=timedelta(0))


@pytest.mark.slow
@pytest.mark.integration  # child processes: the recorder load, a second writer, slt sql readers
def test_maintenance_while_the_recorder_writes_and_people_query(lake_settings: Settings) -> None:
    seconds = 20.0
    env = env_for(lake_settings)
    children = {mode: subprocess.Popen([sys.executable, "-m", "tests.store.load_child", mode, str(seconds)], cwd=REPO,
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for mode in ("recorder", "writer")}
    runs, queries, seen = 0, 0, []
    deadline = time.monotonic() + seconds
    with open_store(lake_settings) as lake:
        while time.monotonic() < deadline:
            maintain(lake, retention=timedelta(seconds=2), grace=timedelta(0))  # the harshest settings
            runs += 1
            done = subprocess.run([sys.executable, "-m", "engine.cli", "sql", "--csv",
                                   "SELECT (SELECT count(*) FROM trade_entries) AS e, (SELECT count(*) FROM candles) AS c"],
                                  cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            seen.append(tuple(map(int, done.stdout.splitlines()[1].split(","))))
            queries += 1
    results = summaries(children)
    assert_nothing_lost_or_doubled(lake_settings, results)
    assert runs >= 3 and queries >= 3 and results["recorder"]["flush_failures"] == 0
    assert seen == sorted(seen)  # readers never went back in time
