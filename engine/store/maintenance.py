"""DuckLake maintenance (the `store-maintenance` flow): flush inlined rows, merge small files,
expire old snapshots, delete the files nothing references any more.

Each commit of the recorder writes a small Parquet file or inlines its rows in the catalog, so
without maintenance a trading day leaves thousands of small files and queries slow down. Each step
runs under the writers' exclusive catalog lock (`Lake.exclusive`), one step at a time, so the
engine's flusher waits at most one step (its recorder keeps acknowledging from the journal), and a
read-only `Lake` never sees a step half-done: its queries take the shared lock. Snapshots younger
than the retention window stay, so time travel inside it keeps working (a merged file keeps each
row's snapshot range). Files a merge or an expiry replaced are deleted only when older than
`grace` (the DuckDB prompt, `slt sql` without a query, takes no lock and may still read them).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from engine.store.lake import ALIAS, Lake

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Footprint:
    """What the store occupies: live data files by table, every file under the data path, snapshots."""

    tables: dict[str, tuple[int, int]]  # table -> (data files, bytes) in the current snapshot
    files_on_disk: int
    bytes_on_disk: int
    snapshots: int


@dataclass(frozen=True)
class MaintenanceRun:
    before: Footprint
    after: Footprint
    rows_flushed: int
    files_merged: int
    snapshots_expired: int
    files_deleted: int
    seconds: dict[str, float] = field(default_factory=dict)  # per step


def footprint(lake: Lake) -> Footprint:
    with lake.exclusive() as con:
        tables = {name: (int(files), int(size)) for name, files, size in con.execute(
            f"SELECT table_name, file_count, file_size_bytes FROM ducklake_table_info('{ALIAS}') ORDER BY 1").fetchall()}
        snapshots = con.execute(f"SELECT count(*) FROM ducklake_snapshots('{ALIAS}')").fetchone()[0]  # type: ignore[index]
        data_path = con.execute(f"SELECT data_path FROM ducklake_settings('{ALIAS}')").fetchone()[0]  # type: ignore[index]
    files = list(_files(Path(data_path)))
    return Footprint(tables, len(files), sum(size for _, size in files), int(snapshots))


def maintain(lake: Lake, retention: timedelta, grace: timedelta = timedelta(hours=1)) -> MaintenanceRun:
    """The four steps, in the order DuckLake needs them (an expired snapshot's files become
    deletable only after the expiry); the before/after footprint and what each step did."""
    if retention <= timedelta(0) or grace < timedelta(0):
        raise ValueError(f"snapshot retention must be positive and the grace not negative (got {retention}, {grace})")
    before, seconds = footprint(lake), {}

    def step(name: str, sql: str) -> list[tuple[object, ...]]:
        started = time.perf_counter()
        with lake.exclusive() as con:
            rows = con.execute(sql).fetchall()
        seconds[name] = time.perf_counter() - started
        return rows

    flushed = step("flush", f"SELECT rows_flushed FROM ducklake_flush_inlined_data('{ALIAS}')")
    merged = step("merge", f"SELECT files_processed FROM ducklake_merge_adjacent_files('{ALIAS}')")
    expired = step("expire", f"SELECT snapshot_id FROM ducklake_expire_snapshots('{ALIAS}', "
                             f"older_than => now() - INTERVAL '{retention.total_seconds():.6f} seconds')")
    older = f"older_than => now() - INTERVAL '{int(grace.total_seconds())} seconds'"
    deleted = step("cleanup", f"SELECT path FROM ducklake_cleanup_old_files('{ALIAS}', {older})")
    deleted += step("orphans", f"SELECT path FROM ducklake_delete_orphaned_files('{ALIAS}', {older})")
    run = MaintenanceRun(before, footprint(lake), rows_flushed=int(sum(r[0] or 0 for r in flushed)),  # type: ignore[misc]
                         files_merged=int(sum(r[0] or 0 for r in merged)), snapshots_expired=len(expired),  # type: ignore[misc]
                         files_deleted=len(deleted), seconds=seconds)
    log.info("🧹 store maintenance: %d files (%s) -> %d (%s); %d inlined rows flushed, %d files merged, "
             "%d snapshots expired, %d files deleted", before.files_on_disk, _size(before.bytes_on_disk),
             run.after.files_on_disk, _size(run.after.bytes_on_disk), run.rows_flushed, run.files_merged,
             run.snapshots_expired, run.files_deleted)
    return run


def summary(run: MaintenanceRun) -> list[dict[str, object]]:
    """Rows of the artifact: one per table whose files changed, then the totals."""
    rows: list[dict[str, object]] = []
    for table in sorted(set(run.before.tables) | set(run.after.tables)):
        b, a = run.before.tables.get(table, (0, 0)), run.after.tables.get(table, (0, 0))
        if b != a:
            rows.append({"table": table, "files before": b[0], "files after": a[0],
                         "bytes before": b[1], "bytes after": a[1]})
    rows.append({"table": "(all files on disk)", "files before": run.before.files_on_disk,
                 "files after": run.after.files_on_disk, "bytes before": run.before.bytes_on_disk,
                 "bytes after": run.after.bytes_on_disk})
    rows.append({"table": "(snapshots)", "files before": run.before.snapshots, "files after": run.after.snapshots,
                 "bytes before": None, "bytes after": None})
    return rows


def _files(root: Path) -> Iterator[tuple[Path, int]]:
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            try:
                yield path, path.stat().st_size
            except FileNotFoundError:  # deleted by a cleanup while we walked
                continue


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"
