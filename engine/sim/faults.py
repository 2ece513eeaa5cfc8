"""Faults on command: a registry of seeded, counted fault rules that the server consults.

A rule has a kind (below), an optional target (`path`: a glob on the REST path or websocket path,
`method`, `stream`: a glob on stream names, `key`: a glob on the API key of a REST request, so a
fault can hit one account of many), an optional `count` (fire on the next N matching
requests/frames, then stop), an optional `probability` with a `seed` (each rule draws from its own
`random.Random(seed)`, so a run is reproducible), and an optional `duration` in seconds.

REST kinds: http_error (`status`, default 503; `body` html, or json with Binance's `code`, default
-1001; e.g. status 400, code -2019 answers "Margin is insufficient"), rate_limit (429 + Retry-After; `ban` -> 418),
timeout_after_accept (the request is processed - an order is accepted and matched - then the answer
is held `delay` seconds or the connection is `cut`), malformed_response (the request is processed, then
the answer's JSON body is cut in half: unreadable), latency (`delay` seconds before handling),
clock_skew (`offset_ms` added to the auth clock and /fapi/v1/time).
Websocket kinds: ws_drop (close matching connections now, or `every` N seconds up to `times`
times; `mode` abort or close), ws_withhold_pongs (client pings go unanswered), ws_stall (frames
are dropped, the socket stays open), ws_malformed (`variant`: bad_json, nan_price, negative_price,
high_below_low, backwards_time, unknown_stream - inserted before the next matching frames).
Server kind: restart (close everything, refuse connections for `down` seconds, come back with
state intact).

Every firing is counted per kind and kept (bounded) in an event log; `GET /admin/faults` shows both."""

from __future__ import annotations

import copy
import fnmatch
import random
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import msgspec

REST_KINDS = ("http_error", "rate_limit", "timeout_after_accept", "malformed_response", "latency", "clock_skew")
WS_KINDS = ("ws_drop", "ws_withhold_pongs", "ws_stall", "ws_malformed")
KINDS = REST_KINDS + WS_KINDS + ("restart",)
VARIANTS = ("bad_json", "nan_price", "negative_price", "high_below_low", "backwards_time", "unknown_stream")
_PARAMS: dict[str, dict[str, Any]] = {
    "http_error": {"status": 503, "body": "html", "code": -1001},
    "rate_limit": {"retry_after": 5, "ban": False},
    "timeout_after_accept": {"mode": "delay", "delay": 30.0},
    "malformed_response": {},
    "latency": {"delay": 0.5},
    "clock_skew": {"offset_ms": 5000},
    "ws_drop": {"mode": "abort", "every": None, "times": None},
    "ws_withhold_pongs": {},
    "ws_stall": {},
    "ws_malformed": {"variant": "bad_json"},
    "restart": {"down": 1.0, "mode": "abort"},
}
_MODES = {"timeout_after_accept": ("delay", "cut"), "restart": ("abort", "close"), "ws_drop": ("abort", "close")}
_TARGETS = ("path", "method", "stream", "key", "count", "probability", "seed", "duration", "kind")
_encode = msgspec.json.Encoder().encode


class FaultError(ValueError):
    """A fault request that cannot be honoured; the message names the field."""


@dataclass
class Fault:
    id: int
    kind: str
    params: dict[str, Any]
    path: str | None = None
    method: str | None = None
    stream: str | None = None
    key: str | None = None
    count: int | None = None
    probability: float = 1.0
    seed: int = 0
    duration: float | None = None
    matched: int = 0
    fired: int = 0
    active: bool = True
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def targets(self, *, method: str | None = None, path: str | None = None, streams: tuple[str, ...] = (),
                key: str | None = None) -> bool:
        if self.method and method and self.method.upper() != method.upper():
            return False
        if self.key and (key is None or not fnmatch.fnmatchcase(key, self.key)):
            return False
        if self.path and (path is None or not fnmatch.fnmatchcase(path, self.path)):
            return False
        return not (self.stream and not any(fnmatch.fnmatchcase(s, self.stream) for s in streams))

    def take(self) -> bool:
        """One matching request/frame: does the fault fire on it (count and probability)?"""
        if not self.active or (self.count is not None and self.fired >= self.count):
            return False
        self.matched += 1
        if self.probability < 1.0 and self.rng.random() >= self.probability:
            return False
        self.fired += 1
        if self.count is not None and self.fired >= self.count:
            self.active = False
        return True

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "params": self.params, "path": self.path, "method": self.method,
                "stream": self.stream, "key": self.key, "count": self.count, "probability": self.probability, "seed": self.seed,
                "duration": self.duration, "matched": self.matched, "fired": self.fired, "active": self.active}


class Faults:
    def __init__(self) -> None:
        self.rules: list[Fault] = []
        self.counters: Counter[str] = Counter()
        self.log: deque[dict[str, Any]] = deque(maxlen=1000)
        self._next = 1

    def add(self, spec: dict[str, Any]) -> Fault:
        kind = spec.get("kind")
        if kind not in KINDS:
            raise FaultError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        params = dict(_PARAMS[kind])
        for name, value in spec.items():
            if name in _TARGETS:
                continue
            if name not in params:
                raise FaultError(f"{kind} takes {', '.join(sorted(params)) or 'no parameters'} "
                                 f"(plus {', '.join(_TARGETS[:-1])}); got {name!r}")
            params[name] = value
        if kind == "ws_malformed" and params["variant"] not in VARIANTS:
            raise FaultError(f"variant must be one of {', '.join(VARIANTS)}; got {params['variant']!r}")
        if kind == "http_error" and not (isinstance(params["status"], int) and 400 <= params["status"] <= 599):
            raise FaultError(f"status must be an HTTP error status 400-599; got {params['status']!r}")
        if kind == "http_error" and params["body"] not in ("html", "json"):
            raise FaultError(f"body must be html or json; got {params['body']!r}")
        if kind == "http_error" and not (isinstance(params["code"], int) and params["code"] < 0):
            raise FaultError(f"code must be a negative Binance error code; got {params['code']!r}")
        if kind in ("timeout_after_accept", "restart", "ws_drop") and params["mode"] not in _MODES[kind]:
            raise FaultError(f"mode must be one of {', '.join(_MODES[kind])}; got {params['mode']!r}")
        probability = float(spec.get("probability", 1.0))
        if not 0.0 < probability <= 1.0:
            raise FaultError(f"probability must be in (0, 1]; got {probability!r}")
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise FaultError(f"count must be an integer >= 1; got {count!r}")
        seed = int(spec.get("seed", 0))
        fault = Fault(id=self._next, kind=kind, params=params, path=spec.get("path"), method=spec.get("method"),
                      stream=spec.get("stream"), key=spec.get("key"), count=count, probability=probability, seed=seed,
                      duration=spec.get("duration"), rng=random.Random(seed))
        self._next += 1
        self.rules.append(fault)
        return fault

    def get(self, fault_id: int) -> Fault | None:
        return next((f for f in self.rules if f.id == fault_id), None)

    def deactivate(self, fault_id: int | None = None) -> list[Fault]:
        hit = [f for f in self.rules if f.active and (fault_id is None or f.id == fault_id)]
        for fault in hit:
            fault.active = False
        return hit

    def record(self, fault: Fault, detail: str, count: int = 1) -> None:
        self.counters[fault.kind] += count
        self.log.append({"fault": fault.id, "kind": fault.kind, "detail": detail})

    def active(self, kind: str) -> list[Fault]:
        return [f for f in self.rules if f.active and f.kind == kind]

    def for_request(self, method: str, path: str, key: str | None = None) -> dict[str, Fault]:
        """The REST faults that fire on this request (`key`: its API key), by kind (at most one of each)."""
        fired: dict[str, Fault] = {}
        for fault in self.rules:
            if fault.kind in REST_KINDS and fault.kind != "clock_skew" and fault.kind not in fired \
                    and fault.active and fault.targets(method=method, path=path, key=key) and fault.take():
                fired[fault.kind] = fault
                self.record(fault, f"{method} {path}")
        return fired

    def clock_skew_ms(self, method: str | None = None, path: str | None = None) -> int:
        total = 0
        for fault in self.active("clock_skew"):
            if fault.targets(method=method, path=path):
                total += int(fault.params["offset_ms"])
                fault.matched += 1
                fault.fired += 1
                self.counters["clock_skew"] += 1
        return total

    def connection_flag(self, kind: str, path: str, streams: tuple[str, ...]) -> Fault | None:
        for fault in self.active(kind):
            if fault.targets(path=path, streams=streams):
                return fault
        return None

    def before_frame(self, stream: str, payload: Any) -> list[tuple[str, bytes]]:
        """Malformed frames to send before this frame of `stream` (hub hook)."""
        extra = []
        for fault in self.active("ws_malformed"):
            if fault.targets(streams=(stream,)) and fault.take():
                variant = fault.params["variant"]
                extra.append(malformed(variant, stream, payload))
                self.record(fault, f"{variant} on {stream}")
        return extra

    def snapshot(self) -> dict[str, Any]:
        return {"counters": dict(self.counters), "faults": [f.describe() for f in self.rules],
                "events": list(self.log)}


_PRICE_KEYS = ("p", "c", "b", "markPrice", "lastPrice")


def malformed(variant: str, stream: str, payload: Any) -> tuple[str, bytes]:
    """(stream name for combined framing, raw bytes) of one broken frame derived from `payload`."""
    if variant == "bad_json":
        return stream, _encode(payload)[: max(5, len(_encode(payload)) // 2)]
    data = copy.deepcopy(payload)
    body = data[0] if isinstance(data, list) and data else data
    target = body.get("k", body) if isinstance(body, dict) else body
    if variant in ("nan_price", "negative_price"):
        value = "NaN" if variant == "nan_price" else "-1.00"
        for key in _PRICE_KEYS:
            if key in target:
                target[key] = value
                break
        if "h" in target and "l" in target:
            target["h" if variant == "nan_price" else "l"] = value
    elif variant == "high_below_low":
        if "h" in target and "l" in target:
            target["h"], target["l"] = target["l"], target["h"]
            if target["h"] == target["l"]:
                target["l"] = str(float(target["h"]) * 1.01)
        elif "b" in target and "a" in target:
            target["b"], target["a"] = target["a"], target["b"]
    elif variant == "backwards_time":
        for holder in (body, target):
            for key in ("E", "T", "t"):
                if isinstance(holder, dict) and isinstance(holder.get(key), int):
                    holder[key] -= 3_600_000
    elif variant == "unknown_stream":
        event_time = body.get("E", 0) if isinstance(body, dict) else 0
        return "nosuchsymbol@unknownChannel", _encode({"e": "unknownEvent", "E": event_time})
    return stream, _encode(data)
