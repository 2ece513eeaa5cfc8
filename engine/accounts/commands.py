"""The operator's batch commands to a group of accounts, given through the store (pure).

`slt accounts --close-all [--group G]` records a command as a health event (component
`accounts.batch`, status `close_all`, the group in `detail`); the running engine polls the store,
closes every position of the group's accounts at market, and records an `applied` event naming
the command, so a restart never applies it again. Like the kill switch's commands, they go through
the store rather than to the exchange directly: the engine owns the books, so an order it did not
decide could not be told from a stranger's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from engine.accounts.account import AccountGroup
from engine.core.types import HealthEvent

COMPONENT = "accounts.batch"
CLOSE_ALL = "close_all"
APPLIED = "applied"


def close_all_command(group: AccountGroup | None, reason: str, at_ms: int, received_ms: int) -> HealthEvent:
    """Close every position of `group`'s accounts (every account when None)."""
    scope = str(group) if group is not None else "all"
    return HealthEvent(f"{COMPONENT}:{CLOSE_ALL}:{scope}:{received_ms}", COMPONENT, CLOSE_ALL, reason,
                       json.dumps({"group": scope}), event_time=at_ms, received_time=received_ms)


def command_group(command: HealthEvent) -> AccountGroup | None:
    """The group a command is for; None means every account."""
    scope = json.loads(command.detail or "{}").get("group", "all")
    return None if scope == "all" else AccountGroup(scope)


def applied_event(command: HealthEvent, outcome: dict[str, list[str]], at_ms: int, received_ms: int) -> HealthEvent:
    """The engine's record that it applied `command` (`outcome`: what it did per account)."""
    return HealthEvent(f"{COMPONENT}:{APPLIED}:{command.event_id}", COMPONENT, APPLIED,
                       f"operator {command.status} ({command.message}) applied",
                       json.dumps({"command": command.event_id, "accounts": outcome}), event_time=at_ms,
                       received_time=received_ms)


def pending(events: Iterable[HealthEvent]) -> list[HealthEvent]:
    """Commands no engine has applied yet, in the order they were given."""
    events = list(events)
    done = {json.loads(e.detail).get("command") for e in events if e.component == COMPONENT and e.status == APPLIED}
    return sorted((e for e in events if e.component == COMPONENT and e.status == CLOSE_ALL and e.event_id not in done),
                  key=lambda e: (e.received_time, e.event_id))
