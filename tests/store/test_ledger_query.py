"""The Online learning section's `slt sql` example over the prediction ledger runs (the real `slt sql`
command, a real lake) and shows a taken signal resolved by its trade and an untaken one by its label."""

from __future__ import annotations

import re
import shlex

import pytest

from engine.config import Settings
from engine.core.types import SignalOutcome
from engine.store import Lake
from engine.store.writer import write_records
from tests.conftest import REPO
from tests.store.test_prediction_ledger import entry, exit_, signal
from tests.store.test_sql_cli import slt

pytestmark = pytest.mark.integration


def readme_ledger_queries() -> list[str]:
    section = (REPO / "README.md").read_text().split("## Online learning", 1)[1].split("\n## ", 1)[0]
    return [shlex.split(line)[2] for line in re.findall(r"^slt sql .*$", section, flags=re.M)]


def test_the_readme_ledger_query_runs(lake_settings: Settings, lake: Lake) -> None:
    (query,) = readme_ledger_queries()
    write_records(lake, [signal("taken", 0.61), entry("a1", "taken", "main", "1"),
                         exit_("a1", "main", "1", "10", 1_700_000_000_000 + 9_000_000),
                         signal("untaken", 0.40, None),
                         SignalOutcome("untaken", "ETHUSDT", -0.0031, 0, 1_700_000_000_000 + 7_200_000)])
    done = slt(lake_settings, "sql", "--csv", query)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "model_version,source,signals,predicted,won,net_bp"
    assert lines[1].startswith("7,trade,1,0.61,1.0,") and lines[2].startswith(",label,1,0.4,0.0,-31.0")
