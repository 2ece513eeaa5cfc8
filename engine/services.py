"""Local services as child processes: declared as data, started together, watched, stopped cleanly.

Each service is a child process started by `engine.child` (its own session, output in a log file,
the parent-death signal set); stopping sends SIGTERM to each group, waits, then SIGKILLs whatever is
left of the group and of the process's descendants, so no orphan survives.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from engine.child import answers, log_tail, signal_group, spawn_logged
from engine.core.backoff import Backoff
from engine.core.errors import SltError

log = logging.getLogger(__name__)


class ServiceFailed(SltError):
    """A service could not start, did not become healthy in time, or died."""


@dataclass(frozen=True)
class Service:
    name: str
    argv: tuple[str, ...]
    log_file: Path
    env: Mapping[str, str] = field(default_factory=dict)  # added to the inherited environment
    health_url: str | None = None  # healthy once it answers 2xx
    url: str | None = None  # what to show a person (a UI address)
    port: int | None = None
    port_variable: str = ""  # the setting that chose the port, named in a "port in use" error
    startup_timeout: float = 120.0
    after: tuple[str, ...] = ()  # started once these services answer their health URLs
    restart: bool = False  # restarted (with backoff) when it dies, instead of stopping everything


def check_port_free(service: Service, host: str) -> None:
    if service.port is None:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, service.port))
        except OSError as exc:
            raise ServiceFailed(f"{service.name}: port {service.port} on {host} is in use ({exc.strerror}); stop what "
                                f"uses it or set {service.port_variable or 'another port'}") from None


class Supervisor:
    """Starts services, waits until they are healthy, notices deaths, stops them all."""

    def __init__(self, services: Sequence[Service]) -> None:
        self.services = list(services)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._backoff: dict[str, Backoff] = {}
        self._due: dict[str, float] = {}  # a dead restartable service -> monotonic time of its restart
        self._started: dict[str, float] = {}

    def start(self) -> None:
        """Start every service that waits for no other (the rest start in `wait_healthy`)."""
        for service in self.services:
            if not service.after:
                self._launch(service)

    def launch(self, service: Service) -> None:
        """Start one more service now (one `start` left out, e.g. until something was set up for it)."""
        if service not in self.services:
            self.services.append(service)
        self._launch(service)

    def _launch(self, service: Service) -> None:
        self._started[service.name] = time.monotonic()
        self.processes[service.name] = spawn_logged(service.argv, service.log_file, env={**os.environ, **service.env})
        log.info("started %s (pid %d), log %s", service.name, self.processes[service.name].pid, service.log_file)

    def dead(self, *, restartable: bool = False) -> Service | None:
        """A service whose process has exited, if any; those restarted when they die
        (`Service.restart`) only with `restartable` (while starting, every death is a failure)."""
        for service in self.services:
            process = self.processes.get(service.name)
            if process is not None and process.poll() is not None and (restartable or not service.restart):
                return service
        return None

    def revive(self, now: float | None = None) -> list[str]:
        """Restart the restartable services that died, each after a doubling delay (1 s to 60 s,
        reset once one has run for 5 min); the names restarted now. Call it from the watch loop."""
        now = time.monotonic() if now is None else now
        restarted = []
        for service in self.services:
            process = self.processes.get(service.name)
            if not service.restart or process is None or process.poll() is None:
                continue
            backoff = self._backoff.setdefault(service.name, Backoff(base=1.0, cap=60.0, long_after=10**6))
            if service.name not in self._due:
                if now - self._started.get(service.name, now) > 300:
                    backoff.success()
                delay = backoff.failure()
                self._due[service.name] = now + delay
                log.warning("%s exited with code %s; restarting it in %.0f s (the rest runs on); see %s",
                            service.name, process.returncode, delay, service.log_file)
            elif now >= self._due[service.name]:
                del self._due[service.name]
                self._launch(service)
                restarted.append(service.name)
        return restarted

    def _failure(self, service: Service, why: str) -> ServiceFailed:
        return ServiceFailed(f"{service.name} {why}; last lines of {service.log_file}:\n{log_tail(service.log_file)}")

    def wait_healthy(self, stop: threading.Event) -> bool:
        """Block until every service answers its health URL, starting each dependent service once
        what it waits for is healthy; False if `stop` was set first."""
        started = time.monotonic()
        pending = [s for s in self.services if s.name not in self.processes]
        waiting = [s for s in self.services if s.health_url and s.name in self.processes]
        while waiting or pending:
            if stop.is_set():
                return False
            if (service := self.dead(restartable=True)) is not None:
                raise self._failure(service, f"exited with code {self.processes[service.name].returncode} while starting")
            waiting = [s for s in waiting if not answers(s.health_url or "")]
            ready = {s.name for s in self.services if s.name in self.processes} - {s.name for s in waiting}
            for service in [s for s in pending if set(s.after) <= ready]:
                pending.remove(service)
                self._launch(service)
                if service.health_url:
                    waiting.append(service)
            for service in waiting:
                if time.monotonic() - started > service.startup_timeout:
                    raise self._failure(service, f"did not answer {service.health_url} "
                                                 f"within {service.startup_timeout:.0f} s")
            if waiting or pending:
                stop.wait(0.25)
        return True

    def stop(self, grace: float = 15.0) -> None:
        """Stop dependents before what they depend on (the engine before the exchange it talks
        to, so it can finish its shutdown), each wave: SIGTERM every process group, wait up to
        `grace` s, then SIGKILL what is left."""
        by_name = {s.name: s for s in self.services}
        remaining = [n for n in self.processes]
        while remaining:
            wave = [n for n in remaining
                    if not any(n in by_name[m].after for m in remaining if m in by_name and m != n)]
            self._stop_wave(wave or remaining, grace)
            remaining = [n for n in remaining if n not in (wave or remaining)]

    def _stop_wave(self, names: list[str], grace: float) -> None:
        processes = {n: self.processes[n] for n in names}
        trees: list[psutil.Process] = []
        for name, process in processes.items():
            if process.poll() is not None:
                continue
            try:
                trees += psutil.Process(process.pid).children(recursive=True)
            except psutil.Error:
                pass
            signal_group(process.pid, signal.SIGTERM)
            log.info("stopping %s (pid %d)", name, process.pid)
        deadline = time.monotonic() + grace
        for process in processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(process.pid, signal.SIGKILL)
                process.wait()
        _, alive = psutil.wait_procs(trees, timeout=max(0.1, deadline - time.monotonic()))
        for leftover in alive:
            try:
                leftover.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)
        for process in processes.values():  # a group member that ignored SIGTERM
            signal_group(process.pid, signal.SIGKILL)
