"""Which signal policy a backtest runs, built as the live engine builds it (`engine.wiring.model_serving`):
the model policy over the bootstrap proposals, every signal carrying its feature row.

- `bootstrap`: no model is served (the live engine with no champion): the bootstrap proposals go out.
- `champion`, `challenger`, `model:VERSION`: that registered version is loaded once from MLflow
  (`SLT_MLFLOW_TRACKING_URI`) and offered to the model slot at the start, with the engine's own checks
  (features, interval, a known row scored); it scores signals from the moment the engine would let
  it, once `BOOTSTRAP_TRADE_LIMIT` trades have closed. It is not swapped during the run (no alias polls)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass

from engine.config import Settings
from engine.core.clock import ExchangeClock
from engine.execution.trader import Trader
from engine.signals.model import ModelPolicy, ServedModel


class PolicyError(ValueError):
    """A policy that cannot be run (unknown name, a model that cannot be loaded or is refused)."""


@dataclass(frozen=True)
class Choice:
    """What `--policy` asked for: a label and, for a model, the loaded version."""

    label: str
    model: ServedModel | None = None


def choose(name: str, settings: Settings) -> Choice:
    """Parse `--policy` and load the model it names (MLflow is asked only for a model)."""
    if name == "bootstrap":
        return Choice("bootstrap")
    if name in ("champion", "challenger"):
        which = name
    elif name.startswith("model:") and name[6:].isdigit():
        which = name[6:]
    else:
        raise PolicyError(f"--policy must be bootstrap, champion, challenger or model:VERSION, got {name!r}")
    model = load(settings, which)
    return Choice(f"model v{model.version} ({name})", model)


def load(settings: Settings, which: str) -> ServedModel:
    """The version an alias points at, or a version number, loaded as the engine loads its champion."""
    from engine.learning.names import MODEL_NAME, RegistryUnavailable
    from engine.learning.serving import MlflowModels, NotFound, VersionInfo

    source = MlflowModels(settings.mlflow_tracking_uri)
    try:
        if which.isdigit():
            found = source.get("model-versions/get", name=MODEL_NAME, version=which)["model_version"]
        else:
            found = source.get("registered-models/alias", name=MODEL_NAME, alias=which)["model_version"]
        info = VersionInfo(str(found["version"]), found.get("run_id", ""),
                           {t["key"]: t["value"] for t in found.get("tags", [])})
        with contextlib.redirect_stdout(sys.stderr):   # MLflow's download messages: stdout is the report
            return source.load(info)
    except NotFound:
        raise PolicyError(f"--policy: MLflow at {source.shown} has no {MODEL_NAME} "
                          f"{'version' if which.isdigit() else 'alias'} {which}") from None
    except RegistryUnavailable as exc:
        raise PolicyError(f"--policy: {exc}") from None


def build_policy(settings: Settings, trader: Callable[[], Trader | None], record: Callable[..., None],
                 clock: ExchangeClock, model: ServedModel | None) -> ModelPolicy:
    """The live engine's policy (its watch is not run: the backtest serves `model`, or none, throughout)."""
    from engine.wiring import model_serving

    policy, watch = model_serving(settings, trader, record, clock)
    if model is not None:
        why = policy.slot.offer(model, policy.features.names, watch.known_row(), settings.interval)
        if why is not None:
            raise PolicyError(f"--policy: {why}")
    return policy
