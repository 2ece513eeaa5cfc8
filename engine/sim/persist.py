"""The simulator remembers its exchange across restarts, as a real exchange would.

`slt up` runs the simulator with a state file (data/sim/state.pkl): the exchange core (accounts,
wallets, positions, resting and conditional orders, trades, ledgers, used client ids, id counters)
and the replay clock are saved every `every` seconds and on a clean stop, and loaded at the next
start, so a second `make run` continues the first one instead of rewinding the market and
forgetting the account (which the engine's store still remembers). A kill -9 loses at most the last
`every` seconds, like an exchange outage the engine then reconciles against.

API secrets are not written: they are masked out of the file and re-attached from the configured
accounts on load (an account with no configured secret cannot sign until it is configured again).
The file is pickle, written atomically, readable by its owner only; it is the simulator's private
state, never read by anything else.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
from pathlib import Path
from typing import Any

from engine.core.secret import Secret
from engine.sim.matching import Exchange

log = logging.getLogger("engine.sim")
VERSION = 1


class StateError(ValueError):
    """The state file cannot be used with these options (it names why and what to do)."""


class _Writer(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Secret):
            return Secret, ("",)
        return NotImplemented


def save(path: Path, exchange: Exchange, bar_open: int, symbols: tuple[str, ...], interval: str) -> None:
    buffer = io.BytesIO()
    _Writer(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(
        {"version": VERSION, "bar_open": bar_open, "symbols": sorted(symbols), "interval": interval,
         "exchange": exchange})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(buffer.getvalue())
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def load(path: Path, symbols: tuple[str, ...], interval: str) -> tuple[Exchange, int] | None:
    """(exchange, replay bar to resume at), or None when there is no state yet."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            state = pickle.load(handle)  # noqa: S301 - our own file, owner-only
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise StateError(f"simulator state {path} cannot be read ({exc}); remove it to start afresh") from None
    if not isinstance(state, dict) or state.get("version") != VERSION:
        raise StateError(f"simulator state {path} has an unknown version; remove it to start afresh")
    if state["symbols"] != sorted(symbols) or state["interval"] != interval:
        raise StateError(f"simulator state {path} is for {', '.join(state['symbols'])} on {state['interval']} "
                         f"candles, not {', '.join(sorted(symbols))} on {interval}: use the same symbols and "
                         f"interval, or remove the file to start afresh")
    return state["exchange"], int(state["bar_open"])
