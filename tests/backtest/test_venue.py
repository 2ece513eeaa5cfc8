"""The in-process venue's funding history (kept as the income history grows, bisected by time) answers
every query as a scan of the whole income history does, also while it grows between queries."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from decimal import Decimal

from engine.backtest.driver import build_sim
from engine.backtest.venue import InProcessVenue
from tests.backtest.helpers import options, settings

SYMBOLS = ("BTCUSDT", "ETHUSDT")


def scan(income: list, since: int | None, until: int | None, symbol: str | None) -> list[tuple]:
    """What fetch_funding answered before: every FUNDING_FEE row of the history that matches."""
    return [(i.symbol, i.amount, i.time, i.tran_id) for i in income if i.kind == "FUNDING_FEE"
            and (symbol is None or i.symbol == symbol) and (since is None or i.time >= since)
            and (until is None or i.time <= until)]


def test_fetch_funding_answers_as_a_scan_of_the_income_history() -> None:
    config = settings()
    sim, _ = build_sim(config, dataclasses.replace(options(30), symbols=config.symbols, interval=config.interval),
                       Decimal(10_000))
    venue = InProcessVenue(sim, "bt-main", "main", lambda events: None)
    account = sim.exchange.accounts["bt-main"]
    rng = random.Random(3)
    now = 1_000_000
    checked = 0
    for _ in range(60):
        for _ in range(rng.randint(0, 12)):
            now += rng.choice((0, 0, 1_000, 3_600_000))
            kind = rng.choice(("FUNDING_FEE", "REALIZED_PNL", "COMMISSION", "FUNDING_FEE"))
            account.record_income(kind, Decimal(rng.randint(-500, 500)) / 100, now, rng.choice(SYMBOLS))
        for _ in range(5):
            times = [i.time for i in account.income]
            since = rng.choice([None, *times, now + 1, 0])
            until = rng.choice([None, *times, now + 1])
            symbol = rng.choice((None, *SYMBOLS))
            got = asyncio.run(venue.fetch_funding(since, until, symbol))
            assert [(p.symbol, p.amount, p.event_time, int(p.income_id)) for p in got] == \
                scan(account.income, since, until, symbol)
            checked += bool(got)
    assert checked > 50
