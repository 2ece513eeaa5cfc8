"""Publishing results: Prefect artifacts for people, Prefect events for automations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from engine.jobs.regimes import RegimeChange

KEY = re.compile(r"^[a-z0-9-]+$")  # what Prefect accepts as an artifact key (anything else fails the flow)


def _checked(key: str) -> str:
    if not KEY.match(key):
        raise ValueError(f"artifact key {key!r} must be lowercase letters, digits and dashes")
    return key


@task(name="publish-table", cache_policy=NO_CACHE)
def table(key: str, rows: Sequence[dict[str, Any]], description: str) -> None:
    create_table_artifact(table=list(rows), key=_checked(key), description=description)


@task(name="publish-markdown", cache_policy=NO_CACHE)
def markdown(key: str, text: str, description: str) -> None:
    create_markdown_artifact(markdown=text, key=_checked(key), description=description)


@task(name="publish-link", cache_policy=NO_CACHE)
def link(key: str, url: str, text: str, description: str) -> None:
    """A link artifact; `url` must be one the browser can reach (an MLflow run page, not a file path)."""
    create_link_artifact(link=url, link_text=text, key=_checked(key), description=description)


@task(name="emit-regime-changes", cache_policy=NO_CACHE)
def regime_changes(changes: Sequence[RegimeChange]) -> int:
    """One `slt.regime.changed` event per symbol whose regime changed; how many were sent."""
    for change in changes:
        r = change.after
        emit_event(event="slt.regime.changed",
                   resource={"prefect.resource.id": f"slt.symbol.{change.symbol.lower()}",
                             "prefect.resource.name": change.symbol},
                   payload={"symbol": change.symbol, "before": change.before, "after": r.regime.value,
                            "change_pct": r.change_pct, "volatility_pct": r.volatility_pct,
                            "window_end": r.window_end})
    return len(changes)
