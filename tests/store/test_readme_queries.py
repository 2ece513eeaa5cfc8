"""The example queries in the README run against a real lake and return what they promise."""

from __future__ import annotations

import re
from decimal import Decimal

import msgspec

from engine.store import Lake
from engine.store.writer import write_records
from tests.conftest import REPO
from tests.store.conftest import entry, exit_, one_of_each


def readme_queries() -> list[str]:
    section = (REPO / "README.md").read_text().split("## The store", 1)[1]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    return [s.strip() for block in blocks for s in block.split(";") if s.strip()]


def test_readme_queries_run(lake: Lake) -> None:
    equity = one_of_each(0)[6]
    write_records(lake, [entry(1), exit_(1, pnl="2"), entry(2, symbol="ETHUSDT"), exit_(2, pnl="-1", symbol="ETHUSDT"),
                         entry(3), equity, msgspec.structs.replace(equity, wallet_balance=Decimal("10010"),
                                                                   event_time=equity.event_time + 3_600_000)])
    queries = readme_queries()
    assert len(queries) == 5
    results = [lake.con.execute(q).fetchall() for q in queries]
    per_symbol, last, daily, snapshots, travel = results
    assert [(r[0], r[1], r[2]) for r in per_symbol] == [("BTCUSDT", 1, Decimal("1.85")), ("ETHUSDT", 1, Decimal("-1.15"))]
    assert len(last) == 2 and daily == [("main", daily[0][1], Decimal("10009.8179"))]
    assert 2 <= len(snapshots) <= 5 and "insert" in str(snapshots[0][2]) and travel[0][0] >= 0  # newest first
