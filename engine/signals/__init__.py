"""Signal policies (pure). The rule-based bootstrap policy and, later, the learned model sit behind
the same `SignalPolicy` interface; `Admission` decides which signals may trade."""

from engine.signals.admission import Admission, AdmissionDecision
from engine.signals.bootstrap import BootstrapPolicy
from engine.signals.policy import Signal, SignalPolicy, safe_evaluate

__all__ = ["Admission", "AdmissionDecision", "BootstrapPolicy", "Signal", "SignalPolicy", "safe_evaluate"]
