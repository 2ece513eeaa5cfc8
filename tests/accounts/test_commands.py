"""The operator's batch commands as they are recorded and read back (pure)."""

from __future__ import annotations

import json

import pytest

from engine.accounts import AccountGroup
from engine.accounts.commands import APPLIED, COMPONENT, applied_event, close_all_command, command_group, pending


def test_a_command_names_its_group_and_is_pending_until_applied() -> None:
    aggressive = close_all_command(AccountGroup.AGGRESSIVE, "news", 1_000, 5_000)
    everyone = close_all_command(None, "end of test", 2_000, 6_000)
    assert (aggressive.component, aggressive.status, aggressive.message) == (COMPONENT, "close_all", "news")
    assert command_group(aggressive) is AccountGroup.AGGRESSIVE and command_group(everyone) is None
    assert pending([everyone, aggressive]) == [aggressive, everyone]         # in the order they were given
    done = applied_event(aggressive, {"a1": ["BTCUSDT: closing long 0.010 at market"]}, 1_500, 7_000)
    assert done.status == APPLIED and aggressive.event_id in done.detail
    assert pending([aggressive, everyone, done]) == [everyone]
    assert applied_event(aggressive, {}, 1_500, 7_000).event_id == done.event_id   # noted once, however often


def test_an_unknown_group_is_an_error_naming_it() -> None:
    command = close_all_command(None, "x", 1, 2)
    broken = type(command)(command.event_id, COMPONENT, "close_all", "x", '{"group": "reckless"}')
    with pytest.raises(ValueError, match="reckless"):
        command_group(broken)


def test_the_engine_refuses_a_malformed_command_once_and_applies_the_next() -> None:
    from engine.core.types import HealthEvent
    from engine.execution.batch import BatchCommands

    noted: list[HealthEvent] = []
    batch = BatchCommands([], noted.append, wall_ms=lambda: 3_000)
    good = close_all_command(None, "ok", 1, 2_000)
    broken = type(good)("accounts.batch:close_all:x:1", COMPONENT, "close_all", "x", '{"group": "reckless"}',
                        received_time=1_000)
    assert batch.apply([broken, good], 5) == 2                 # no exception escapes into the engine's poll
    assert [json.loads(e.detail)["command"] for e in noted] == [broken.event_id, good.event_id]
    assert "reckless" in json.loads(noted[0].detail)["accounts"]["refused"][0]
    assert batch.apply([broken, good, *noted], 6) == 0           # each is noted once, never retried
    assert pending([broken, good, *noted]) == []
