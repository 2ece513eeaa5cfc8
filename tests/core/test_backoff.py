from __future__ import annotations

import random

import pytest

from engine.core.backoff import Backoff


def test_schedule_doubles_then_enters_long_delay_mode() -> None:
    b = Backoff(jitter=0.0)
    delays = [b.failure() for _ in range(8)]
    assert delays == [1, 2, 4, 8, 16, 60, 60, 60]
    assert b.long_delay_mode


def test_cap_bounds_the_exponential_part() -> None:
    b = Backoff(jitter=0.0, long_after=100, cap=300.0)
    delays = [b.failure() for _ in range(12)]
    assert delays[8] == 256 and delays[9:] == [300, 300, 300]


@pytest.mark.parametrize("seed", range(20))
def test_jitter_stays_within_bounds(seed: int) -> None:
    b = Backoff(jitter=0.2, rng=random.Random(seed))
    for failures in range(1, 10):
        nominal = b.nominal(failures)
        delay = b.failure()
        assert nominal * 0.8 <= delay <= min(300.0, nominal * 1.2)


def test_jitter_actually_varies() -> None:
    delays = {Backoff(rng=random.Random(seed)).failure() for seed in range(10)}
    assert len(delays) > 5


def test_success_resets() -> None:
    b = Backoff(jitter=0.0)
    for _ in range(7):
        b.failure()
    b.success()
    assert not b.long_delay_mode and b.failure() == 1


def test_bad_jitter_rejected() -> None:
    with pytest.raises(ValueError, match="jitter"):
        Backoff(jitter=1.5)
