from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.config import Settings
from engine.store import Lake, connect, init_store
from engine.store.migrations import MIGRATIONS, Migration, applied_versions, migrate
from engine.store.schema import TABLES
from tests.conftest import REPO

DUCK_KINDS = {"DECIMAL(38,12)": "decimal", "BIGINT": "int", "INTEGER": "int", "DOUBLE": "float", "BOOLEAN": "bool",
              "VARCHAR": "str"}


def test_applied_once(settings: Settings) -> None:
    assert init_store(settings) == [m.version for m in MIGRATIONS]
    assert init_store(settings) == []
    with connect(settings, read_only=True) as lake:
        assert applied_versions(lake) == {m.version for m in MIGRATIONS}


def test_tables_match_the_record_types(lake: Lake) -> None:
    """The frozen DDL and the record types agree: a new field needs a migration."""
    for spec in TABLES:
        rows = lake.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = 'lake' "
            "AND table_name = ? ORDER BY ordinal_position", [spec.table]).fetchall()
        assert [name for name, _ in rows] == list(spec.column_names), spec.table
        kinds = {name: DUCK_KINDS[kind] for name, kind in rows}
        assert all(kinds[c.name] == c.kind for c in spec.columns), spec.table
        assert {"record_id", "event_time", "received_time"} <= set(kinds)


def test_adding_a_migration_is_one_entry(lake: Lake) -> None:
    extra = (*MIGRATIONS, Migration(MIGRATIONS[-1].version + 1, "notes",
                                    "CREATE TABLE notes (record_id VARCHAR, note VARCHAR); "
                                    "CREATE VIEW note_texts AS SELECT DISTINCT note FROM notes"))
    assert migrate(lake, extra) == [extra[-1].version]
    assert migrate(lake, extra) == []
    assert lake.con.execute("SELECT count(*) FROM note_texts").fetchone() == (0,)


@pytest.mark.integration  # runs a child process
def test_two_processes_migrating_at_once_apply_each_migration_once(settings: Settings, tmp_path: Path) -> None:
    script = ("import sys, time; from engine.config import load_settings; from engine.store import init_store\n"
              "s = load_settings(env_file='/nonexistent'); time.sleep(max(0, float(sys.argv[1]) - time.time()))\n"
              "print(init_store(s))")
    env = {"PATH": "/usr/bin:/bin", "SLT_DATA_DIR": str(settings.data_dir)}
    start = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, "-c", script, str(start)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    applied = [v for out, _ in outputs for v in json.loads(out.strip().splitlines()[-1])]
    assert sorted(applied) == [m.version for m in MIGRATIONS], outputs  # each once, by whichever process
    with connect(settings, read_only=True) as lake:
        assert lake.con.execute("SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version"
                                ).fetchall() == [(m.version, 1) for m in MIGRATIONS]
