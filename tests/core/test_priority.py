"""Neighbour defence: the training thread cap and the lowered CPU priority of flows and the worker."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.config import load_settings
from engine.core.errors import ConfigError
from engine.core.priority import default_train_threads, train_threads


@pytest.mark.parametrize(("cpus", "expected"), [(1, 1), (2, 1), (8, 7), (None, 1)])
def test_default_leaves_one_core_free_but_keeps_at_least_one(cpus: int | None, expected: int) -> None:
    assert default_train_threads(cpus) == expected
    assert train_threads({}, cpu_count=cpus or 1) == expected


def test_the_setting_wins_over_the_default() -> None:
    assert train_threads({"SLT_TRAIN_THREADS": " 3 "}, cpu_count=2) == 3


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_a_bad_thread_count_is_refused_by_name(raw: str) -> None:
    with pytest.raises(ConfigError, match=rf"SLT_TRAIN_THREADS='{raw}' is not allowed: expected an integer >= 1"):
        train_threads({"SLT_TRAIN_THREADS": raw})


def test_settings_validate_the_same_variable(tmp_path: Path) -> None:
    assert load_settings({}, env_file=tmp_path / "none").train_threads == train_threads({})
    assert load_settings({"SLT_TRAIN_THREADS": "4"}, env_file=tmp_path / "none").train_threads == 4
    with pytest.raises(ConfigError, match=r"SLT_TRAIN_THREADS='0' is not allowed: expected an integer >= 1"):
        load_settings({"SLT_TRAIN_THREADS": "0"}, env_file=tmp_path / "none")


CHILD = textwrap.dedent("""
    import os, threading
    from engine.core.priority import lower_priority
    seen = {}
    started, done = threading.Event(), threading.Event()
    def early():                      # a thread that exists before the call
        started.set(); done.wait(10)
        seen["early"] = os.getpriority(os.PRIO_PROCESS, 0)
    t = threading.Thread(target=early); t.start(); started.wait(10)
    base = os.getpriority(os.PRIO_PROCESS, 0)       # whatever the test runner was started at
    first = lower_priority(base + 2) - base
    again = lower_priority(base + 1) - base         # never raises the priority back
    late = threading.Thread(target=lambda: seen.__setitem__("late", os.getpriority(os.PRIO_PROCESS, 0)))
    late.start(); late.join(10)
    done.set(); t.join(10)
    print(first, again, seen["early"] - base, seen["late"] - base)
""")


@pytest.mark.integration
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_lower_priority_covers_every_thread_and_never_raises_it_back() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True)
    first, again, early, late = map(int, out.stdout.split())
    assert first == again == 2
    assert early == 2 and late == 2
