"""User-data streams: listen keys (valid 60 minutes of real time, extended by PUT) and the mapping
of exchange-core events to ORDER_TRADE_UPDATE / ALGO_UPDATE / ACCOUNT_UPDATE /
ACCOUNT_CONFIG_UPDATE frames on the account's key. An expired key gets one `listenKeyExpired` and
nothing more."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.sim import payloads
from engine.sim.errors import BinanceError
from engine.sim.events import AccountEvent, AlgoEvent, ConfigEvent, Event, OrderEvent
from engine.sim.instruments import SymbolSpec
from engine.sim.streams import Hub

log = logging.getLogger("engine.sim.userstream")


@dataclass
class _Key:
    account: str
    expires_ms: int


class ListenKeys:
    def __init__(self, clock: Callable[[], int], ttl_ms: int = 3_600_000, seed: int = 0) -> None:
        self.clock = clock
        self.ttl_ms = ttl_ms
        self.seed = seed
        self._keys: dict[str, _Key] = {}
        self._by_account: dict[str, str] = {}
        self._count = 0

    def create(self, account: str) -> str:
        """The account's active key, extended; a new one if it has none."""
        key = self._by_account.get(account)
        if key is None or key not in self._keys:
            self._count += 1
            key = hashlib.sha256(f"{self.seed}:{account}:{self._count}".encode()).hexdigest()
            self._by_account[account] = key
        self._keys[key] = _Key(account, self.clock() + self.ttl_ms)
        return key

    def keepalive(self, account: str, key: str | None = None) -> str:
        active = self._by_account.get(account)
        if active is None or active not in self._keys or (key and key != active):
            raise BinanceError(-1125)
        self._keys[active].expires_ms = self.clock() + self.ttl_ms
        return active

    def delete(self, account: str) -> str | None:
        key = self._by_account.pop(account, None)
        if key is not None:
            self._keys.pop(key, None)
        return key

    def account_of(self, key: str) -> str | None:
        entry = self._keys.get(key)
        return entry.account if entry is not None and entry.expires_ms > self.clock() else None

    def key_of(self, account: str) -> str | None:
        key = self._by_account.get(account)
        return key if key is not None and self.account_of(key) == account else None

    def expire(self) -> list[str]:
        """Drop lapsed keys; return them."""
        now = self.clock()
        lapsed = [k for k, v in self._keys.items() if v.expires_ms <= now]
        for key in lapsed:
            entry = self._keys.pop(key)
            if self._by_account.get(entry.account) == key:
                del self._by_account[entry.account]
        return lapsed


class UserEvents:
    """Turns exchange-core events into frames on each account's listen key."""

    def __init__(self, hub: Hub, keys: ListenKeys, specs: dict[str, SymbolSpec]) -> None:
        self.hub = hub
        self.keys = keys
        self.specs = specs
        self.published = 0

    def __call__(self, events: Iterable[Event]) -> None:
        for event in events:
            key = self.keys.key_of(event.account)
            if key is None or key not in self.hub.users:
                continue
            name, payload = self.frame(event)
            self.hub.publish_user(key, name, payload)
            self.published += 1

    def frame(self, event: Event) -> tuple[str, dict]:
        if isinstance(event, OrderEvent):
            return "ORDER_TRADE_UPDATE", payloads.order_update(event, self.specs[event.order.symbol])
        if isinstance(event, AlgoEvent):
            return "ALGO_UPDATE", payloads.algo_update(event, self.specs[event.algo.symbol])
        if isinstance(event, AccountEvent):
            return "ACCOUNT_UPDATE", payloads.account_update(event, self.specs)
        if isinstance(event, ConfigEvent):
            return "ACCOUNT_CONFIG_UPDATE", payloads.config_update(event)
        raise TypeError(f"unknown event {event!r}")

    def expired(self, key: str, now_ms: int) -> None:
        log.info("listen key %s... expired", key[:8])
        self.hub.publish_user(key, "listenKeyExpired", {"e": "listenKeyExpired", "E": str(now_ms), "listenKey": key})
