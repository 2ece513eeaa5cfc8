"""Learning benchmarks (issue #13), on the bundled 1h history of BTCUSDT, ETHUSDT and XRPUSDT.

* retrain_time: a full training as `slt train` runs it (dataset, final fit, walk-forward with its
  bootstrap intervals, permutation importance, logging and registering in a real MLflow server on
  127.0.0.1) against the bare scikit-learn fits it contains (each fold's and the final model's
  `engine.learning.model.fit` on the same rows), timed in the same run, right after it. Three such
  pairs, each in a fresh process (`python -m bench.bench_learning URI`: MLflow is imported inside
  the timed region every time, as in a `slt train`); the pair with the median ratio is reported, all
  three in `extra`, with the training's seconds per stage. Target ratio <= 1.5; the absolute time is
  reported too (aim: under 5 minutes on 2 cores).
* dataset_build: features and labels for that history (`build_dataset`) against the indicator batch
  alone (`engine.indicators.compute`, numpy backend, the same candles). Report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import BenchResult, machine_load
from bench.servers import REPO
from engine.child import answers, free_port, spawn_logged, stop, wait_ready
from engine.cli.up import services
from engine.config import Settings
from engine.indicators import compute
from engine.learning.dataset import Dataset, build_dataset
from engine.learning.labels import ExitSpec
from engine.learning.model import fit
from engine.learning.registry import publish
from engine.learning.sources import bundled
from engine.learning.training import train
from engine.learning.validation import embargo_ms, walk_forward_folds

SYMBOLS = ("BTCUSDT", "ETHUSDT", "XRPUSDT")
EXITS = ExitSpec()
PAIRS = 3


def run() -> list[BenchResult]:
    history = [bundled(REPO / "data" / "market", s, "1h") for s in SYMBOLS]
    started = time.perf_counter()
    for data in history:
        compute(data.candles, backend="numpy")
    indicators_s = time.perf_counter() - started
    started = time.perf_counter()
    dataset = build_dataset(history, EXITS)
    dataset_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="bench-learning-") as tmp:
        settings = Settings(data_dir=Path(tmp), mlflow_port=free_port())
        service = next(s for s in services(settings) if s.name == "mlflow")
        server = spawn_logged(service.argv, service.log_file, env={**os.environ, **service.env})
        try:
            wait_ready(server, lambda: answers(service.health_url or ""), what="mlflow", timeout=120,
                       log=service.log_file)
            pairs = [one_pair(settings.mlflow_tracking_uri) for _ in range(PAIRS)]
        finally:
            stop(server)
    load = machine_load()
    full_s, fits_s, stages = sorted(pairs, key=lambda p: p[0] / p[1])[len(pairs) // 2]
    return [
        BenchResult("retrain_time", full_s, "s", "bare scikit-learn fits (5 folds + final)", fits_s,
                    higher_is_better=False, target="<= 1.5",
                    extra={"signals": dataset.rows, "features": len(dataset.features), "aim": "< 300 s",
                           "stages_s": stages, "machine_load": load,
                           "pairs": [{"full_s": round(f, 3), "fits_s": round(r, 3), "ratio": round(f / r, 3)}
                                     for f, r, _ in pairs]}),
        BenchResult("dataset_build", dataset_s, "s", "indicator batch alone (numpy backend)", indicators_s,
                    higher_is_better=False, target="report",
                    extra={"signals": dataset.rows, "bars": sum(d.candles.height for d in history),
                           "machine_load": load}),
    ]


def one_pair(tracking_uri: str) -> tuple[float, float, dict[str, float]]:
    """(full training and publishing, bare fits, the training's seconds per stage), in a fresh process."""
    done = subprocess.run([sys.executable, "-m", "bench.bench_learning", tracking_uri], capture_output=True,
                          text=True, cwd=REPO, timeout=900, check=True)
    full_s, fits_s, stages = json.loads(done.stdout.strip().splitlines()[-1])
    return full_s, fits_s, stages


def pair(tracking_uri: str) -> tuple[float, float, dict[str, float]]:
    """One pair in this process: the inputs loaded and the dataset code warmed up first (untimed, as
    `run` does), then the timed training and publishing, then the bare fits."""
    history = [bundled(REPO / "data" / "market", s, "1h") for s in SYMBOLS]
    dataset = build_dataset(history, EXITS)
    started = time.perf_counter()
    training = train(history, EXITS)
    trained = time.perf_counter()
    publish(training, tracking_uri, code_commit="bench")
    full_s = time.perf_counter() - started
    stages = {**training.timings, "mlflow": started + full_s - trained}
    return full_s, bare_fits(dataset), {k: round(v, 3) for k, v in stages.items()}


def bare_fits(dataset: Dataset) -> float:
    """The model fits a training contains, on the same rows, and nothing else."""
    frame = dataset.frame
    open_time, label_end = frame["open_time"].to_numpy(), frame["label_end"].to_numpy()
    x, y, net = dataset.matrix(), frame["label"].to_numpy(), frame["net_return"].to_numpy()
    embargo = embargo_ms(EXITS, "1h")
    rows = [f.train for f in walk_forward_folds(open_time, label_end, embargo)] + [slice(None)]
    started = time.perf_counter()
    for r in rows:
        fit(x[r], y[r], net[r], open_time[r], label_end[r], embargo)
    return time.perf_counter() - started


if __name__ == "__main__":
    print(json.dumps(pair(sys.argv[1])))
