"""Prefect flows: thin orchestration over tasks (one flow per module, each deployed in prefect.yaml).

Every flow starts with `begin()`: its process (and every thread it starts) drops to the flows'
lower CPU priority, so the engine keeps its latency, and the settings load from the environment and
the checkout's `.env` (the deployment's pull step runs flows from the checkout)."""

from __future__ import annotations

from prefect.states import Failed, State

from engine.config import Settings, load_settings
from engine.core.errors import ConfigError
from engine.core.priority import lower_priority


def begin() -> Settings | State:
    """Lower this process's priority and load the settings; a Failed state naming a bad setting."""
    lower_priority()
    try:
        return load_settings()
    except ConfigError as exc:
        return Failed(message=str(exc))


def failed(message: str) -> State:
    """The run fails with this one message (no traceback): the inputs or the store are not usable."""
    return Failed(message=message)
