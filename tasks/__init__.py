"""Prefect tasks grouped by domain (store, exchange, publish); the logic they call lives in `engine/`.

Each task is one I/O step. Only I/O that can succeed on a second try is retried (`retry_on`): an
unreachable store or a temporary exchange error, never bad data or stale inputs. Caching is off:
the inputs are settings and records, and a rerun must read the store afresh."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect.client.schemas.objects import State, TaskRun


def retry_on(*errors: type[BaseException]) -> Callable[[Any, TaskRun, State[Any]], bool]:
    """A `retry_condition_fn` that retries only when the task failed with one of `errors`."""
    def condition(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
        del task, task_run
        return isinstance(state.data, errors)
    return condition
