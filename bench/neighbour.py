"""The busy neighbour of the latency benchmarks (issue #17): what a retrain and a flow do beside
the engine. One process that, until its deadline (it always stops by itself):

- fits scikit-learn models on every core (`HistGradientBoostingClassifier`, OpenMP threads = the
  machine's cores: a retrain that took every core it found, not capped by `SLT_TRAIN_THREADS`);
- commits a batch of candles to the same DuckLake store every 100 ms (a flow writing).

It runs at `engine.core.priority.FLOW_NICENESS`, as the worker and the flows will (`--niceness 0`
for a neighbour at the engine's own priority). `python -m bench.neighbour <data dir> <seconds>`;
prints `ready` once both loads run.

    with busy_neighbour(settings.data_dir, seconds=30):
        ...  # measure
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.servers import start, stop

COMMIT_EVERY = 0.1
CANDLES_PER_COMMIT = 500


def start_neighbour(data_dir: Path, seconds: float, niceness: int | None = None) -> subprocess.Popen[str]:
    """The neighbour process, once both its loads run; it stops by itself after `seconds`."""
    args = ["-m", "bench.neighbour", str(data_dir), str(seconds)]
    if niceness is not None:
        args += ["--niceness", str(niceness)]
    return start(args)


@contextmanager
def busy_neighbour(data_dir: Path, seconds: float, niceness: int | None = None) -> Iterator[None]:
    """Run the neighbour beside the block (stopped when the block ends, or at `seconds` at the latest)."""
    proc = start_neighbour(data_dir, seconds, niceness)
    try:
        yield
    finally:
        stop(proc)


def _fit_until(deadline: float, threads: int) -> None:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(17)
    x = rng.normal(size=(60_000, 24))
    y = (x[:, 0] + 0.5 * x[:, 1] * x[:, 2] + rng.normal(size=len(x)) > 0).astype(int)
    with threadpool_limits(threads):
        while time.monotonic() < deadline:
            HistGradientBoostingClassifier(max_iter=40, early_stopping=False).fit(x, y)


def _commit_until(deadline: float, data_dir: Path) -> None:
    from engine.config import Settings
    from engine.core.types import Candle
    from engine.store import open_store
    from engine.store.writer import write_records

    lake = open_store(Settings(data_dir=data_dir))
    base = 1_600_000_000_000
    n = 0
    try:
        while time.monotonic() < deadline:
            batch = []
            for _ in range(CANDLES_PER_COMMIT):
                n += 1
                t = base + n * 60_000
                batch.append(Candle("NEIGHBOUR", "1m", t, t + 59_999, 1.0, 2.0, 0.5, 1.5, 10.0, event_time=t))
            write_records(lake, batch)
            time.sleep(COMMIT_EVERY)
    finally:
        lake.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.neighbour")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("seconds", type=float)
    parser.add_argument("--niceness", type=int, default=None)
    args = parser.parse_args(argv)
    from engine.core.priority import FLOW_NICENESS, lower_priority

    lower_priority(FLOW_NICENESS if args.niceness is None else args.niceness)
    deadline = time.monotonic() + args.seconds
    fit = threading.Thread(target=_fit_until, args=(deadline, os.cpu_count() or 1), daemon=True)
    fit.start()
    writer = threading.Thread(target=_commit_until, args=(deadline, args.data_dir), daemon=True)
    writer.start()
    time.sleep(1.0)  # both loads are under way
    print("ready", flush=True)
    fit.join()
    writer.join()


if __name__ == "__main__":
    main(sys.argv[1:])
