"""The execution tests' fixtures: `stack`, one desk built by the engine's root against the simulator."""

from tests.execution.stack import stack

__all__ = ["stack"]
