"""Publishing from the worker process, against a real MLflow server on 127.0.0.1: the training
gives the same figures as in one process, the run and version are complete, MLflow down is a clear
error with nothing registered, and a training that never finished leaves a FAILED run and no version."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from engine.child import free_port
from engine.learning.dataset import MarketData
from engine.learning.names import CHALLENGER, EXPERIMENT, MODEL_NAME, RegistryUnavailable
from engine.learning.publisher import Publisher
from engine.learning.registry import load
from engine.learning.training import Training, train

pytestmark = pytest.mark.integration
SECRET = "sk-planted-77c0e2"


@pytest.fixture(scope="module")
def plain(history: list[MarketData]) -> Training:
    """The same training in one process, nothing beside it."""
    return train(history, resamples=50)


def versions(uri: str) -> int:
    return len(MlflowClient(uri, registry_uri=uri).search_model_versions(f"name='{MODEL_NAME}'"))


def test_the_worker_gives_the_same_training_and_a_complete_version(mlflow_uri: str, history: list[MarketData],
                                                                  plain: Training) -> None:
    with Publisher(mlflow_uri, "abc123") as publisher:
        training = train(history, resamples=50, on_final=publisher.on_final, executor=publisher)
        published = publisher.publish(training)
    assert training.importance == plain.importance
    assert training.walk.pooled == plain.walk.pooled
    assert [f.figures for f in training.walk.folds] == [f.figures for f in plain.walk.folds]
    assert np.array_equal(training.walk.scores.p, plain.walk.scores.p)
    assert training.decision == plain.decision == published.decision
    assert {"dataset", "final_fit", "importance", "folds", "bootstrap"} <= set(training.timings)

    client = MlflowClient(mlflow_uri, registry_uri=mlflow_uri)
    run = client.get_run(published.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["code_commit"] == "abc123" and run.data.params["folds"] == "5"
    assert all(run.data.params[k] == str(v) for k, v in training.params().items())
    assert {"auc", "auc_low", "brier", "base_brier", "gated_net"} <= set(run.data.metrics)
    assert len(client.get_metric_history(published.run_id, "fold_auc")) == 5
    artifacts = {a.path for a in client.list_artifacts(published.run_id)}
    assert {"walk_forward.json", "calibration.svg", "feature_importance.svg", "dataset.json"} <= artifacts
    version = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER)
    assert version.version == published.version and version.tags["decision"] == "refuse"
    assert version.tags["data_end"] == str(training.data_end)
    loaded = load(mlflow_uri, CHALLENGER)
    x = training.dataset.matrix()[:50]
    assert np.array_equal(loaded.model.predict_proba(x), training.final.model.predict_proba(x))


def test_mlflow_down_is_a_clear_error_after_the_training_and_registers_nothing(history: list[MarketData],
                                                                              plain: Training) -> None:
    uri = f"http://user:{SECRET}@127.0.0.1:{free_port()}"
    with Publisher(uri) as publisher:
        training = train(history, resamples=50, on_final=publisher.on_final, executor=publisher)
        with pytest.raises(RegistryUnavailable, match=r"does not answer after 3 retries.*nothing was registered") as caught:
            publisher.publish(training)
    assert SECRET not in str(caught.value) and "http://127.0.0.1:" in str(caught.value)
    assert training.walk.pooled == plain.walk.pooled   # the figures are there for the report all the same


def test_a_training_that_never_finished_leaves_a_failed_run_and_no_version(mlflow_uri: str, plain: Training) -> None:
    before = versions(mlflow_uri)
    with pytest.raises(RuntimeError, match="the folds failed"), Publisher(mlflow_uri) as publisher:
        publisher.on_final(plain.final, plain.dataset, plain.params())
        raise RuntimeError("the folds failed")
    client = MlflowClient(mlflow_uri, registry_uri=mlflow_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)
    assert runs[0].info.status == "FAILED"
    assert versions(mlflow_uri) == before
