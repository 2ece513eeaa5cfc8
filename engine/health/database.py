"""Store rules: the journal's backlog, how long the store has taken nothing while records wait,
whether the store is reachable, records it refused, and free disk under the data directory."""

from __future__ import annotations

from dataclasses import dataclass

from engine.health.levels import ComponentHealth, Findings, Level
from engine.health.thresholds import COMMIT_AGE_S, DISK_FREE_PERCENT, JOURNAL_BACKLOG

COMPONENT = "database"


@dataclass(frozen=True)
class DatabaseInputs:
    pending: int                  # journaled, not yet in the store
    commit_age_s: float | None    # since the store last took records (None: not yet this run)
    store_reachable: bool | None  # None until the first write was tried
    disk_free_percent: float
    rejected: int = 0             # records the store refused since the previous check
    last_error: str | None = None


def evaluate(inputs: DatabaseInputs) -> ComponentHealth:
    found = Findings(COMPONENT)
    if inputs.store_reachable is False:
        found.flag(Level.UNHEALTHY, f"store unreachable: {inputs.last_error or 'write failed'} "
                                    "(records stay durable in the journal)")
    found.figure("journal backlog", inputs.pending, JOURNAL_BACKLOG, " records")
    if inputs.pending and inputs.commit_age_s is not None:
        found.figure("no store commit for", inputs.commit_age_s, COMMIT_AGE_S, " s")
    if inputs.rejected:
        found.flag(Level.DEGRADED, f"{inputs.rejected} records refused by the store (kept in the journal's rejected/)")
    found.floor("disk free", inputs.disk_free_percent, DISK_FREE_PERCENT, " %")
    found.metrics.update(pending=inputs.pending, store_reachable=inputs.store_reachable,
                         commit_age_s=None if inputs.commit_age_s is None else round(inputs.commit_age_s, 3),
                         disk_free_percent=round(inputs.disk_free_percent, 2), rejected=inputs.rejected)
    return found.result()
