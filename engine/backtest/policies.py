"""Which signal policy a backtest runs: the bootstrap policy (the default), or a registered model
version when the engine serves one the same way (`--policy champion|challenger|model:VERSION`)."""

from __future__ import annotations

from engine.config import Settings
from engine.signals import SignalPolicy


class PolicyError(ValueError):
    """A policy that cannot be run (unknown name, or a model that cannot be loaded)."""


def policy_for(name: str, settings: Settings) -> tuple[SignalPolicy | None, bool, str]:
    """(policy or None for the engine's default, whether a model is available, a label for reports)."""
    if name == "bootstrap":
        return None, False, "bootstrap"
    if name in ("champion", "challenger") or name.startswith("model:"):
        raise PolicyError(f"--policy {name}: the engine does not serve registered models yet, so a backtest "
                          "cannot run one the way the engine would; use --policy bootstrap")
    raise PolicyError(f"--policy must be bootstrap, champion, challenger or model:VERSION, got {name!r}")
