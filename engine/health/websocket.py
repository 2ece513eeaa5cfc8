"""Websocket rules: the market feed (connected, silence, reconnects, pong timeouts, candles waiting)
and each account's user-data stream. Counts are since the previous check."""

from __future__ import annotations

from dataclasses import dataclass

from engine.health.levels import ComponentHealth, Findings, Level
from engine.health.thresholds import CANDLES_WAITING, Thresholds

COMPONENT = "websocket"


@dataclass(frozen=True)
class UserStreamInputs:
    account: str
    connected: bool
    bad_frames: int = 0   # since the previous check


@dataclass(frozen=True)
class WebsocketInputs:
    connected: bool                  # every planned market connection is up
    silence_s: float                 # since the last market frame (or since the feed started)
    reconnects: int = 0
    pong_timeouts: int = 0
    candles_waiting: int = 0
    user_streams: tuple[UserStreamInputs, ...] = ()


def evaluate(inputs: WebsocketInputs, limits: Thresholds) -> ComponentHealth:
    found = Findings(COMPONENT)
    if not inputs.connected:
        found.flag(Level.UNHEALTHY, "market stream disconnected")
    found.figure("no market frame for", inputs.silence_s, limits.ws_silence, " s")
    if inputs.reconnects:
        found.flag(Level.DEGRADED, f"{inputs.reconnects} market reconnects")
    if inputs.pong_timeouts:
        found.flag(Level.DEGRADED, f"{inputs.pong_timeouts} pong timeouts")
    found.figure("candles waiting", inputs.candles_waiting, CANDLES_WAITING)
    down = [u.account for u in inputs.user_streams if not u.connected]
    if down:
        # REST polls cover a user stream that is down; with every one down the engine learns late
        every = len(down) == len(inputs.user_streams)
        found.flag(Level.UNHEALTHY if every and len(down) > 1 else Level.DEGRADED,
                   "user-data stream down: " + ", ".join(down))
    bad = sum(u.bad_frames for u in inputs.user_streams)
    if bad:
        found.flag(Level.DEGRADED, f"{bad} bad user-data frames")
    found.metrics.update(connected=inputs.connected, silence_s=round(inputs.silence_s, 3),
                         reconnects=inputs.reconnects, pong_timeouts=inputs.pong_timeouts,
                         candles_waiting=inputs.candles_waiting,
                         user_streams_up=sum(u.connected for u in inputs.user_streams),
                         user_streams=len(inputs.user_streams))
    return found.result()
