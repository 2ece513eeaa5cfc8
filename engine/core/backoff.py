"""Reconnect delays: exponential with jitter, then a long-delay mode.

After the n-th consecutive failure the nominal delay is `base * factor**(n-1)` capped at `cap`
(1 s, 2 s, 4 s, 8 s, 16 s with the defaults). Jitter multiplies it by a uniform factor in
[1 - jitter, 1 + jitter] (never beyond `cap`), so a fleet of clients dropped at once does not
reconnect in lockstep. Once `long_after` consecutive failures have happened, every further attempt
waits `long_delay` (60 s): the venue is down or refusing us, and hammering it makes things worse.
A successful connection resets the count.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.2
    long_after: int = 5
    long_delay: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")

    @property
    def long_delay_mode(self) -> bool:
        return self.failures > self.long_after

    def nominal(self, failures: int) -> float:
        """Delay before the next attempt after `failures` consecutive failures, before jitter."""
        if failures <= 0:
            return 0.0
        if failures > self.long_after:
            return self.long_delay
        return min(self.cap, self.base * self.factor ** (failures - 1))

    def failure(self) -> float:
        """Record one failed attempt; return how long to wait before the next one."""
        self.failures += 1
        nominal = self.nominal(self.failures)
        spread = nominal * self.jitter
        return min(self.cap, max(0.0, nominal + self.rng.uniform(-spread, spread)))

    def success(self) -> None:
        self.failures = 0
