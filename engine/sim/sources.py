"""Where the replay's candles come from: the bundled files (`--source file`) or the seeded regime
generator (`--source synthetic`), with the symbol specs that go with them."""

from __future__ import annotations

import functools
from pathlib import Path

from engine.core.intervals import INTERVAL_MS, align
from engine.sim.instruments import KNOWN, SymbolSpec, decimals, spec_for
from engine.sim.options import DEFAULT_START, SimOptions, parse_time
from engine.sim.synthetic import generate, parse_segments, synthetic_tape
from engine.sim.tape import Tape, load_tape

SYNTHETIC_START = "2024-01-02T00:00:00Z"
SYNTHETIC_PRICES = {"BTCUSDT": 30000.0, "ETHUSDT": 2000.0, "XRPUSDT": 0.5}


def load_tapes(options: SimOptions) -> tuple[dict[str, Tape], dict[str, SymbolSpec], int, int]:
    """Tapes and symbol specs for the options' source; returns (tapes, specs, start_ms, end_ms)."""
    interval = options.interval
    if interval not in INTERVAL_MS:
        raise ValueError(f"interval must be one of {', '.join(INTERVAL_MS)}; got {interval!r}")
    tapes: dict[str, Tape] = {}
    specs: dict[str, SymbolSpec] = {}
    if options.source == "synthetic":
        start = options.start_ms if options.start_ms is not None else parse_time(SYNTHETIC_START)
        start = int(align(start, interval if INTERVAL_MS[interval] >= INTERVAL_MS["1h"] else "1h"))
        first = start - options.synthetic_history_hours * INTERVAL_MS["1h"]
        segments = parse_segments(options.regimes)
        for i, symbol in enumerate(options.symbols):
            price = SYNTHETIC_PRICES.get(symbol, 100.0)
            spec = spec_for(symbol, price)
            series = generate(segments, seed=options.seed + i, start_ms=first, interval=interval, start_price=price,
                              decimals=decimals(spec.instrument.tick_size))
            tapes[symbol], specs[symbol] = synthetic_tape(symbol, series), spec
    elif options.source == "file":
        start = options.start_ms if options.start_ms is not None else parse_time(DEFAULT_START)
        start = int(align(start, interval))
        for symbol in options.symbols:
            tapes[symbol] = _file_tape(Path(options.data_dir).resolve(), symbol, interval, start)
            known = KNOWN.get(symbol)
            specs[symbol] = known or spec_for(symbol, float(tapes[symbol].base.close[-1]))
    else:
        raise ValueError(f"source must be 'file' or 'synthetic'; got {options.source!r}")
    if not tapes:
        raise ValueError("at least one symbol is needed")
    data_end = min(int(t.base.open_time[-1]) + t.base.interval_ms for t in tapes.values())
    end = min(options.end_ms, data_end) if options.end_ms is not None else data_end
    for symbol, tape in tapes.items():
        if tape.base.index_of(start) < 0:
            raise ValueError(f"{symbol} has no {interval} bar at the replay start {start}")
    return tapes, specs, start, end


@functools.lru_cache(maxsize=16)
def _file_tape(data_dir: Path, symbol: str, interval: str, start: int) -> Tape:
    """Tapes are read-only once built, so simulators in one process (tests) share them."""
    known = KNOWN.get(symbol)
    return load_tape(data_dir, symbol, interval, start, decimals(known.instrument.tick_size) if known else 8)
