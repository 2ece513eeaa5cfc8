"""Publishing a training from a child process that starts with the training, so MLflow's work
overlaps the fits instead of following them.

In one process, publishing followed the fits: ~3 s of imports (mlflow, its sklearn flavour, skops,
the installed-packages map MLflow checks requirements against), then logging the model. A thread
cannot hide that (the imports hold the GIL; measured, the fits slowed by more than the imports
took). So `Publisher` spawns one worker process as the training starts: it imports MLflow while
the dataset is built, checks the server, starts the run and logs the model as soon as the
final model exists (`on_final`), runs the bootstrap intervals and the permutation importance
beside the fold fits (it is the training's `executor`), and at the end (`publish`) logs the
figures and artifacts, registers the version and sets the aliases, exactly as
`engine.learning.registry.publish` does in process.

The worker is started with multiprocessing's "spawn" (a fresh interpreter: fork is unsafe with
Polars' and OpenMP's threads), so the caller's main module must import without side effects (the
`if __name__ == "__main__":` idiom; the project's entry points have it). It runs its tasks one at
a time, in order. Failures keep the registry's promises: MLflow
down raises RegistryUnavailable, any other failure RegistrationFailed; nothing is registered before
the run is complete, and a run whose training never finished is ended as FAILED.

    with Publisher(uri, code_commit) as publisher:
        training = train(history, exits, on_final=publisher.on_final, executor=publisher)
        published = publisher.publish(training)
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, TypeVar

import numpy as np

from engine.learning import registry
from engine.learning.dataset import Dataset
from engine.learning.model import Fitted
from engine.learning.names import RegistrationFailed, RegistryUnavailable, shown
from engine.learning.training import Params, Training

T = TypeVar("T")
PUBLISH_TIMEOUT_S = 600

# The worker's state between its tasks (one training per worker process).
_started: dict[str, Any] = {}


def _worker_start() -> None:
    """The worker's initializer. Its exit skips the interpreter's teardown of every imported module
    (measured ~0.9 s with MLflow and scikit-learn loaded; the shutdown waits for it): registered
    before MLflow registers its own exit handlers, this one runs after them, once nothing is left
    to flush."""
    os.environ.setdefault(registry.NO_TELEMETRY, "true")
    atexit.register(_quick_exit)


def _quick_exit() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _warm(tracking_uri: str) -> None:
    """Import what publishing needs and build MLflow's installed-packages map, while the parent
    builds the dataset. Whether MLflow answers is found out by the first real step (`_begin`)."""
    import mlflow  # noqa: F401
    import mlflow.pyfunc  # noqa: F401
    import mlflow.sklearn  # noqa: F401
    import skops.io  # noqa: F401
    from mlflow.models import infer_signature  # noqa: F401
    from mlflow.utils.requirements_utils import _init_packages_to_modules_map

    _init_packages_to_modules_map()


def _begin(tracking_uri: str, model: Any, example: np.ndarray, name: str, params: Params) -> None:
    """Start the run and log the model; a failure is kept for `_end` to raise."""
    try:
        client = registry._client(tracking_uri)
        _started["run"] = (client, *registry.translated(
            tracking_uri, lambda: registry.start(model, example, name, params)))
    except BaseException as exc:  # noqa: BLE001 - raised again by _end, in the parent
        _started["error"] = exc


def _end(tracking_uri: str, training: Training, code_commit: str) -> registry.Published:
    if "error" in _started:
        raise _started.pop("error")
    if "run" not in _started:  # on_final was not called: publish as one process would
        return registry.publish(training, tracking_uri, code_commit=code_commit)
    client, run_id, info = _started.pop("run")
    return registry.translated(tracking_uri, lambda: registry.finish(client, training, run_id, info))


def _abandon() -> None:
    """The training did not finish: end its run as FAILED (nothing was registered)."""
    if _started.pop("run", None) is not None:
        import mlflow

        mlflow.end_run(status="FAILED")


class Publisher(Executor):
    """One training's MLflow work in a worker process; also the training's executor."""

    def __init__(self, tracking_uri: str, code_commit: str = "unknown") -> None:
        self.tracking_uri, self.code_commit = tracking_uri, code_commit
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_worker_start)
        self._began = self._ended = False
        self._pool.submit(_warm, tracking_uri)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self._pool.submit(fn, *args, **kwargs)

    def on_final(self, final: Fitted, dataset: Dataset, params: Params) -> None:
        """`train`'s hook: start the run and log the model while the folds fit."""
        self._began = True
        self._pool.submit(_begin, self.tracking_uri, final.model, registry.example_rows(dataset.matrix()),
                          registry.run_name(dataset), {**params, "code_commit": self.code_commit})

    def publish(self, training: Training) -> registry.Published:
        """Finish the run, register and alias (what `registry.publish` does), in the worker."""
        self._ended = True
        try:
            return self._pool.submit(_end, self.tracking_uri, training, self.code_commit).result(PUBLISH_TIMEOUT_S)
        except (RegistryUnavailable, RegistrationFailed):
            raise
        except BrokenProcessPool:
            raise RegistrationFailed(f"the process publishing to MLflow at {shown(self.tracking_uri)} died; "
                                     "no alias was moved") from None

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._began and not self._ended:
            try:
                self._pool.submit(_abandon).result(PUBLISH_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - the worker is gone: its run stays as MLflow has it
                pass
            self._ended = True
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.shutdown(wait=True)
