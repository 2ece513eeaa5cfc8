"""store-maintenance: DuckLake maintenance of the trade store, daily.

Reads and writes: the store's catalog and Parquet files (engine/store/maintenance.py): inlined rows
flushed to Parquet, adjacent small files merged, snapshots older than the retention expired
(SLT_STORE_SNAPSHOT_RETENTION_DAYS, default 30; time travel inside the window keeps working), and
files no snapshot references deleted once older than the grace. Safe while the engine writes and
people query: each step holds the writers' lock for its own length only. Publishes: the table
artifact `store-maintenance` (files and bytes per table, before and after).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import State

from engine.store.maintenance import summary
from flows import begin, failed
from tasks import publish, store


@flow(name="store-maintenance", description=__doc__.split("\n")[0])
def store_maintenance(retention_days: float | None = None, grace_minutes: float = 60.0) -> dict[str, Any] | State:
    settings = begin()
    if isinstance(settings, State):
        return settings
    if (problem := store.check_store(settings)) is not None:
        return failed(problem)
    days = settings.store_snapshot_retention_days if retention_days is None else retention_days
    run = store.maintain(settings, days, grace_minutes)
    publish.table("store-maintenance", summary(run),
                  f"DuckLake maintenance: snapshots kept {days:g} days, replaced files deleted after {grace_minutes:g} min")
    get_run_logger().info("%d files -> %d, %d snapshots expired, %d files deleted (steps: %s)",
                          run.before.files_on_disk, run.after.files_on_disk, run.snapshots_expired, run.files_deleted,
                          ", ".join(f"{k} {v:.2f} s" for k, v in run.seconds.items()))
    return {"files_before": run.before.files_on_disk, "files_after": run.after.files_on_disk,
            "bytes_before": run.before.bytes_on_disk, "bytes_after": run.after.bytes_on_disk,
            "rows_flushed": run.rows_flushed, "files_merged": run.files_merged,
            "snapshots_expired": run.snapshots_expired, "files_deleted": run.files_deleted}
