"""The engine's side of the registry: which version is champion, load exactly that version, and the
watch that swaps it into the running engine (engine.signals.model holds the pure logic).

Reading the alias is one small REST call (`registered-models/alias`), made with the standard
library, so an engine with no MLflow around never imports MLflow and a poll costs milliseconds.
Loading imports `mlflow.sklearn` and reads the artifact; it runs in a worker thread
(`asyncio.to_thread`), never on the event loop. The version number read from the alias is what is
loaded (`models:/signal-model/<n>`), never the alias itself, so a second alias move during the
load cannot give a model other than the one checked. The swap happens back on the event loop
(one assignment between two candles).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.core.clock import wall_ms
from engine.core.types import HealthEvent
from engine.learning.names import CHAMPION, MODEL_NAME, RegistryUnavailable, shown
from engine.signals.model import ModelPolicy, ServedModel

log = logging.getLogger("engine.model")
COMPONENT = "model"
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class VersionInfo:
    version: str
    run_id: str
    tags: dict[str, str]


class ModelSource(Protocol):
    def champion(self) -> VersionInfo | None: ...

    def load(self, info: VersionInfo) -> ServedModel: ...


class NotFound(Exception):
    pass


class MlflowModels:
    """`ModelSource` over an MLflow server's REST API (alias, version, run) and `mlflow.sklearn`
    for the artifact. Blocking: call from a thread."""

    def __init__(self, tracking_uri: str, timeout: float = TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(tracking_uri)
        self.shown = shown(tracking_uri)
        self.tracking_uri = tracking_uri
        self.timeout = timeout
        self._auth = None
        if parts.username:
            token = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            self._auth = "Basic " + base64.b64encode(token.encode()).decode()
        self._base = self.shown.rstrip("/")

    def get(self, path: str, **query: str) -> dict[str, Any]:
        """One GET of the REST API; NotFound for a 4xx answer, RegistryUnavailable when it does not answer."""
        request = urllib.request.Request(f"{self._base}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(query)}")
        if self._auth:
            request.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - configured URL
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in (401, 403):
                raise NotFound(f"{path}: HTTP {exc.code}") from None
            raise RegistryUnavailable(f"MLflow at {self.shown} answered HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise RegistryUnavailable(f"MLflow at {self.shown} does not answer ({type(exc).__name__}: {exc})") from None

    def champion(self) -> VersionInfo | None:
        """The version the `champion` alias points at, None when there is none (no model, no alias)."""
        try:
            found = self.get("registered-models/alias", name=MODEL_NAME, alias=CHAMPION)
        except NotFound:
            return None
        v = found["model_version"]
        return VersionInfo(str(v["version"]), v.get("run_id", ""), {t["key"]: t["value"] for t in v.get("tags", [])})

    def load(self, info: VersionInfo) -> ServedModel:
        """That exact version, with its features, threshold and training interval."""
        import os

        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        import mlflow
        import mlflow.sklearn

        mlflow.set_tracking_uri(self.tracking_uri)
        model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{info.version}")
        interval = ""
        if info.run_id:
            try:
                params = self.get("runs/get", run_id=info.run_id)["run"]["data"].get("params", [])
                interval = next((p["value"] for p in params if p["key"] == "interval"), "")
            except NotFound:
                interval = ""
        return ServedModel(info.version, model, json.loads(info.tags.get("features", "[]")),
                           float(info.tags.get("threshold", "nan")), interval, wall_ms())


class ModelWatch:
    """Polls the champion alias and serves what it points at (see the module docstring). Every change
    of state is a health event of component `model`: served, refused (with the reason), no champion,
    MLflow unavailable, back to the bootstrap policy."""

    def __init__(self, source: ModelSource, policy: ModelPolicy, record: Callable[[HealthEvent], None], *,
                 interval: str, poll_s: float = 60.0, now_ms: Callable[[], int] = wall_ms) -> None:
        self.source = source
        self.policy = policy
        self.record = record
        self.interval = interval
        self.poll_s = poll_s
        self.now_ms = now_ms
        self.state = ""            # the last state reported, so a state is reported once
        self.polls = 0

    def event(self, status: str, message: str, *, once: bool = False) -> None:
        if once and status == self.state:
            return
        self.state = status
        now = self.now_ms()
        (log.warning if status in ("refused", "unavailable", "fallback") else log.info)("model: %s", message)
        detail = json.dumps({"serving": self.policy.slot.version})   # what the engine serves after this
        self.record(HealthEvent(f"{COMPONENT}:{status}:{now}:{self.polls}", COMPONENT, status, message, detail,
                                event_time=now, received_time=wall_ms()))

    async def poll(self) -> None:
        """Read the alias; load and serve a new version; withdraw a removed champion."""
        self.polls += 1
        slot = self.policy.slot
        try:
            info = await asyncio.to_thread(self.source.champion)
        except RegistryUnavailable as exc:
            served = f"keeping model version {slot.version}" if slot.version else "trading on the bootstrap policy"
            self.event("unavailable", f"{exc}; {served}", once=True)
            return
        if info is None:
            if slot.current is not None:
                version = slot.version
                slot.withdraw()
                self.event("withdrawn", f"no champion any more (was version {version}); back to the bootstrap policy")
            else:
                self.event("no_champion", f"no champion registered for {MODEL_NAME}; trading on the bootstrap "
                                          "policy", once=True)
            return
        if info.version == slot.version:
            if self.state == "unavailable":
                self.event("served", f"MLflow answers again; serving model version {info.version}")
            return
        if info.version in slot.refused:
            self.event("refused", f"champion version {info.version} stays refused: {slot.refused[info.version]}",
                       once=True)
            return
        began = time.monotonic()
        try:
            model = await asyncio.to_thread(self.source.load, info)
        except RegistryUnavailable as exc:
            self.event("unavailable", f"{exc}; version {info.version} not loaded yet", once=True)
            return
        except Exception as exc:  # noqa: BLE001 - an unloadable artifact is refused, never fatal
            why = f"model version {info.version} refused: it does not load ({type(exc).__name__}: {exc})"
            slot.refused[info.version] = why
            self.event("refused", why)
            return
        why = slot.offer(model, self.policy.features.names, self.known_row(), self.interval)
        if why is not None:
            self.event("refused", why)
            return
        took = time.monotonic() - began
        self.event("served", f"serving model version {info.version} (threshold {model.threshold:.3f}, "
                             f"{len(model.features)} features, loaded in {took:.1f} s)")

    def known_row(self) -> dict[str, float]:
        """The latest live feature row the engine computed, else zeros: what a swap must score."""
        features = self.policy.features
        for symbol, stream in features.streams.items():
            if stream.last:
                return features.row(symbol, 1, 0.5)
        return {name: 0.0 for name in features.names}

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop`, one poll at a time; a failed poll never ends the loop."""
        while not stop.is_set():
            try:
                await self.poll()
            except Exception:
                log.exception("model poll failed")
            try:
                await asyncio.wait_for(stop.wait(), self.poll_s)
            except TimeoutError:
                pass
