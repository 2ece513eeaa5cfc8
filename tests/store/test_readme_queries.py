"""The example queries in the README run against a real lake and return what they promise."""

from __future__ import annotations

import re
from datetime import UTC, datetime
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
    write_records(lake, [entry(1), exit_(1, pnl="2"), entry(2, symbol="ETHUSDT"), exit_(2, pnl="-1", symbol="ETHUSDT")])
    two_entries = lake.con.execute("SELECT max(snapshot_id) FROM snapshots()").fetchone()[0]
    write_records(lake, [entry(3), equity, msgspec.structs.replace(equity, wallet_balance=Decimal("10010"),
                                                                   event_time=equity.event_time + 3_600_000)])
    queries = readme_queries()
    assert len(queries) == 5
    travel_query = queries[4]
    assert "VERSION => 3" in travel_query   # the README's example version; here: the snapshot of the first write
    queries[4] = travel_query.replace("VERSION => 3", f"VERSION => {two_entries}")
    results = [lake.con.execute(q).fetchall() for q in queries]
    per_symbol, last, daily, snapshots, travel = results
    assert [(r[0], r[1], r[2]) for r in per_symbol] == [("BTCUSDT", 1, Decimal("1.85")), ("ETHUSDT", 1, Decimal("-1.15"))]
    assert [r[1] for r in last] == ["ETHUSDT", "BTCUSDT"]  # newest close first; the open trade is not listed
    day = datetime.fromtimestamp(equity.event_time / 1000, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert [(a, d.replace(tzinfo=UTC) if d.tzinfo is None else d, e) for a, d, e in daily] == [
        ("main", day, Decimal("10009.8179"))]  # the day's last snapshot, not its first
    assert 3 <= len(snapshots) <= 5 and snapshots[0][0] > two_entries and "insert" in str(snapshots[0][2])  # newest first
    assert travel == [(2,)]                      # the lake as it was before entry 3 was written
    assert lake.con.execute("SELECT count(*) FROM trade_entries").fetchone() == (3,)
