"""The simulator remembers accounts, orders and the replay position across restarts (state file)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.core.secret import Secret
from engine.sim.persist import StateError
from engine.sim.server import Simulator
from engine.sim.venue import Venue
from tests.sim.harness import test_options

pytestmark = pytest.mark.integration  # starts the simulator (or the engine) on 127.0.0.1


async def test_exchange_and_replay_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sim" / "state.pkl"
    first = Simulator(test_options(state_file=state))
    await first.start()
    try:
        first.replay.step_bars(3)
        account = first.exchange.accounts["slt-demo-key"]
        account.wallet += Decimal("1.5")            # stands in for any change of state
        first.exchange.accounts["slt-demo-key"].client_ids["sltE-x"] = 42
        resume_at = first.replay.bar_open
    finally:
        await first.stop()
    assert state.is_file() and state.stat().st_mode & 0o077 == 0
    assert b"slt-demo-secret" not in state.read_bytes()        # secrets are never written

    second = Simulator(test_options(state_file=state))
    try:
        restored = second.exchange.accounts["slt-demo-key"]
        assert restored.wallet == Decimal("10001.5") and restored.client_ids["sltE-x"] == 42
        assert restored.secret == Secret("slt-demo-secret")     # re-attached from the configured account
        assert second.replay.bar_open == resume_at
    finally:
        await second.stop()


def test_a_state_for_other_symbols_is_refused_with_a_reason(tmp_path: Path) -> None:
    state = tmp_path / "state.pkl"
    Venue(test_options(state_file=state)).save_state()
    with pytest.raises(StateError, match="is for BTCUSDT, ETHUSDT, XRPUSDT on 1m candles, not BTCUSDT on 1m"):
        Venue(test_options(state_file=state, symbols=("BTCUSDT",)))
