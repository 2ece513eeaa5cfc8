"""The barrier labels on constructed bars: each exit rule, the intra-bar order, fees and funding."""

from __future__ import annotations

import numpy as np
import pytest

from engine.learning.labels import ExitSpec, barrier_outcomes

H = 3_600_000
SPEC = ExitSpec(stop_loss_atr=1.0, take_profit_atr=2.0, max_hold_bars=3, taker_fee=0.0005)


def outcome(bars: list[tuple[float, float, float, float]], side: int, *, spec: ExitSpec = SPEC,
            funding: tuple[list[int], list[float]] = ([], [])) -> tuple[float, int, bool]:
    o, h, l, c = (np.array(x, dtype=float) for x in zip(*bars, strict=True))
    times = np.arange(len(bars), dtype=np.int64) * H
    got = barrier_outcomes(times, o, h, l, c, np.array([0]), np.array([side]), np.array([1.0]), spec,
                           np.array(funding[0], dtype=np.int64), np.array(funding[1]), H)
    return float(got.net_return[0]), int(got.exit_index[0]), bool(got.resolved[0])


def fees(ratio: float) -> float:
    return 0.0005 * (1 + ratio)


def test_take_profit_long_exits_at_the_barrier_net_of_fees() -> None:
    net, at, ok = outcome([(100, 100, 100, 100), (100, 101, 99.5, 100.5), (100.5, 102.5, 100, 102)], 1)
    assert ok and at == 2 and net == pytest.approx(0.02 - fees(1.02))


def test_stop_short_and_gap_exits_at_the_open() -> None:
    net, at, _ = outcome([(100, 100, 100, 100), (100, 100.5, 99.5, 100), (103, 104, 102, 103)], -1)
    assert at == 2 and net == pytest.approx(-0.03 - fees(1.03))


def test_a_bar_touching_both_barriers_follows_the_simulator_path() -> None:
    # rising bar: the low comes first, so a long is stopped; a falling bar reaches the high first
    rising = [(100, 100, 100, 100), (100, 102.5, 98.5, 101)]
    falling = [(100, 100, 100, 100), (100, 102.5, 98.5, 99)]
    assert outcome(rising + [(101, 101, 101, 101)] * 3, 1)[0] == pytest.approx(-0.01 - fees(0.99))
    assert outcome(falling + [(99, 99, 99, 99)] * 3, 1)[0] == pytest.approx(0.02 - fees(1.02))


def test_time_barrier_exits_at_the_close_and_pays_funding() -> None:
    bars = [(100, 100, 100, 100)] + [(100, 100.4, 99.6, 100.2)] * 3
    net, at, ok = outcome(bars, 1, funding=([2 * H, 30 * H], [0.001, 0.5]))
    assert ok and at == 3 and net == pytest.approx(0.002 - fees(1.002) - 0.001)


def test_too_few_bars_leave_the_outcome_unknown() -> None:
    assert outcome([(100, 100, 100, 100), (100, 100.4, 99.6, 100.2)], 1)[2] is False
