from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest

from engine.cli.tables import format_table
from engine.config import Settings
from engine.store import Lake
from engine.store.writer import write_records
from tests.conftest import REPO
from tests.store.conftest import T0, entry, exit_, one_of_each

pytestmark = pytest.mark.integration  # starts the simulator (or the engine) on 127.0.0.1


def slt(settings: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLT_")}, "SLT_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=REPO, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_format_table_aligns_numbers_and_counts_rows() -> None:
    text = format_table(["symbol", "pnl"], [("BTCUSDT", Decimal("1.350000000000")), ("XRPUSDT", None)])
    assert text.splitlines() == ["symbol    pnl", "-------  ----", "BTCUSDT  1.35", "XRPUSDT  NULL", "(2 rows)"]


def test_sql_prints_a_table_or_csv(lake_settings: Settings, lake: Lake) -> None:
    write_records(lake, [entry(1), exit_(1, pnl="2"), entry(2, symbol="ETHUSDT"), exit_(2, pnl="-1", symbol="ETHUSDT")])
    query = "SELECT symbol, count(*) AS trades, sum(net_pnl) AS pnl FROM trades GROUP BY symbol ORDER BY symbol"
    table = slt(lake_settings, "sql", query)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines() == ["symbol   trades    pnl", "-------  ------  -----", "BTCUSDT       1   1.85",
                                         "ETHUSDT       1  -1.15", "(2 rows)"]
    as_csv = slt(lake_settings, "sql", "--csv", query)
    assert as_csv.stdout.splitlines() == ["symbol,trades,pnl", "BTCUSDT,1,1.85", "ETHUSDT,1,-1.15"]


def test_sql_table_shows_iso_times_while_csv_keeps_the_ms(lake_settings: Settings, lake: Lake) -> None:
    write_records(lake, [*one_of_each(), exit_(0)])
    query = f"SELECT c.open_time, c.event_time, t.opened_at, c.close FROM candles c, trades t WHERE c.open_time = {T0}"
    table = slt(lake_settings, "sql", query)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[2].split() == ["2023-11-14T22:13:20Z", "2023-11-14T22:14:20Z",
                                                    "2023-11-14T22:13:20Z", "101"]
    as_csv = slt(lake_settings, "sql", "--csv", query)
    assert as_csv.stdout.splitlines()[1].split(",")[:2] == [str(T0), str(T0 + 60_000)]


def test_sql_is_read_only_and_reports_errors(lake_settings: Settings) -> None:
    bad = slt(lake_settings, "sql", "SELECT * FROM no_such_table")
    assert bad.returncode == 1 and "no_such_table does not exist" in bad.stderr
    write = slt(lake_settings, "sql", "DELETE FROM trade_entries")
    assert write.returncode == 1 and "read-only" in write.stderr.lower()


def test_sql_without_a_store_says_how_to_create_it(settings: Settings) -> None:
    missing = slt(settings, "sql", "SELECT 1")
    assert missing.returncode == 1 and "slt up" in missing.stderr


def test_sql_without_a_query_opens_the_duckdb_prompt_over_the_lake(lake_settings: Settings, lake: Lake) -> None:
    write_records(lake, [entry(1), entry(2)])
    prompt = slt(lake_settings, "sql", stdin=".mode csv\nSELECT count(*) AS n FROM trades;\nSELECT version() AS v;\n")
    assert prompt.returncode == 0, prompt.stderr
    assert prompt.stdout.splitlines()[-4:] == ["n", "2", "v", "v1.5.5"]
    init = (lake_settings.run_dir / "duckdb-init.sql").read_text()
    assert "READ_ONLY" in init and "ducklake.duckdb_extension" in init
