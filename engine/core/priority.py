"""The engine's defence against its neighbours on a small machine (issue #17).

The engine, the Prefect worker and its flows share the same cores. Two rules keep the engine's
latency when a retrain or a store-maintenance run starts beside it:

- Flows and the worker run at a lower CPU priority than the engine: call `lower_priority()` first
  thing in the worker's and each flow process's start-up (before they start threads; threads that
  exist already are lowered too, on Linux).
- Training caps its threads at `train_threads()`: `SLT_TRAIN_THREADS`, by default one core fewer
  than the machine has, at least 1. Use it for `n_jobs=` and for
  `threadpoolctl.threadpool_limits(train_threads())` around a fit, so one core stays free.

`train_threads()` reads the process environment; `Settings.train_threads` (engine/config.py) is the
same value with `.env` applied, validated by the same `parse_train_threads`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import psutil

from engine.core.errors import ConfigError

__all__ = ["FLOW_NICENESS", "TRAIN_THREADS_ENV", "default_train_threads", "lower_priority",
           "parse_train_threads", "train_threads"]

TRAIN_THREADS_ENV = "SLT_TRAIN_THREADS"
# Unix niceness for flows and the worker: the engine stays at 0, so under contention the kernel's
# scheduler gives it ~10x the CPU share of a nice-10 neighbour (CFS weights 1024 vs 110).
FLOW_NICENESS = 10


def default_train_threads(cpu_count: int | None) -> int:
    """One core fewer than the machine has, at least 1 (an unknown count counts as 1 core)."""
    return max(1, (cpu_count or 1) - 1)


def parse_train_threads(raw: str, cpu_count: int | None = None) -> int:
    """`SLT_TRAIN_THREADS` as a thread count: a positive integer, or empty for the default."""
    text = raw.strip()
    if not text:
        return default_train_threads(os.cpu_count() if cpu_count is None else cpu_count)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{text!r} is not an integer >= 1")
    return value


def train_threads(environ: Mapping[str, str] | None = None, cpu_count: int | None = None) -> int:
    """How many threads a training fit may use; `ConfigError` names a bad `SLT_TRAIN_THREADS`."""
    env = os.environ if environ is None else environ
    raw = env.get(TRAIN_THREADS_ENV, "")
    try:
        return parse_train_threads(raw, cpu_count)
    except ValueError:
        raise ConfigError(f"{TRAIN_THREADS_ENV}={raw!r} is not allowed: expected an integer >= 1 "
                          "(threads a training fit may use; unset = one core fewer than the machine has)") from None


def lower_priority(niceness: int = FLOW_NICENESS) -> int:
    """Run this process (every thread it has now, and those it starts later) at `niceness` or lower
    priority; returns the niceness now in force. Never raises the priority: an already nicer process
    is left as it is, so calling it twice is harmless."""
    process = psutil.Process()
    if sys.platform == "win32":  # pragma: no cover - priority classes instead of niceness
        if process.nice() == psutil.NORMAL_PRIORITY_CLASS:
            process.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
        return int(process.nice())
    # Linux keeps a niceness per thread (setpriority on the pid changes only the main thread);
    # new threads inherit their creator's, so lowering each existing one covers them all.
    ids = [t.id for t in process.threads()] if sys.platform.startswith("linux") else [0]
    for tid in ids:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
                os.setpriority(os.PRIO_PROCESS, tid, niceness)
        except ProcessLookupError:  # the thread ended meanwhile
            continue
    return os.getpriority(os.PRIO_PROCESS, 0)
