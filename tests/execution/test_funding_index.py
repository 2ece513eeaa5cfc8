"""FundingLedger's bisections (sorted settlement times, payments by symbol with their times) answer
`must_ask` and `total` exactly as the scans of everything held that they replaced, on random
announcements, payments (out of time order, repeated across and within batches, several accounts)
and reads."""

from __future__ import annotations

import random
from decimal import Decimal

from engine.core.types import ZERO, FundingPayment
from engine.execution.funding import FundingLedger

SYMBOLS = ("BTCUSDT", "ETHUSDT")


def scanned_must_ask(ledger: FundingLedger, symbol: str, start: int, end: int) -> bool:
    """The scan `must_ask` was."""
    since = ledger.known_since.get(symbol)
    if since is None or start < since:
        return True
    checked = ledger.checked.get(symbol, 0)
    return any(start <= t <= end and t > checked for t in ledger.times.get(symbol, ()))


def scanned_total(ledger: FundingLedger, symbol: str, start: int, end: int, account: str | None) -> Decimal:
    """The scan `total` was."""
    return sum((p.amount for p in ledger.payments.values() if p.symbol == symbol and start <= p.event_time <= end
                and (account is None or p.account == account)), ZERO)


def test_the_bisections_answer_as_the_scans() -> None:
    asked = 0
    for seed in range(40):
        rng = random.Random(seed)
        ledger = FundingLedger()
        made: list[FundingPayment] = []
        now = 0
        for _ in range(200):
            now += rng.choice((0, 1, 60, 3_600))
            action = rng.random()
            symbol = rng.choice(SYMBOLS)
            if action < 0.3:
                ledger.announce(symbol, now + rng.choice((0, 10, 3_600, 28_800)), seen_at=now)
            elif action < 0.6:
                batch = []
                for _ in range(rng.randint(0, 4)):
                    if made and rng.random() < 0.2:
                        batch.append(rng.choice(made))              # seen before (or twice in this batch)
                    else:
                        when = now - rng.choice((0, 0, 0, 5, 7_200))  # sometimes older than the last one
                        made.append(FundingPayment(rng.choice(("main", "alt")), rng.choice(SYMBOLS),
                                                   str(len(made) + 1), Decimal(rng.randint(-999, 999)) / 1000,
                                                   event_time=when))
                        batch.append(made[-1])
                if batch and rng.random() < 0.05:
                    batch.append(batch[0])
                ledger.add(batch)
            elif action < 0.7:
                ledger.read_to([symbol], now - rng.choice((0, 100, 5_000)))
            else:
                start = now - rng.choice((0, 50, 3_600, 30_000, 100_000))
                end = start + rng.choice((0, 10, 3_600, 40_000))
                account = rng.choice((None, "main", "alt"))
                assert ledger.must_ask(symbol, start, end) == scanned_must_ask(ledger, symbol, start, end)
                assert ledger.total(symbol, start, end, account) == scanned_total(ledger, symbol, start, end, account)
                asked += 1
    assert asked > 1_000
