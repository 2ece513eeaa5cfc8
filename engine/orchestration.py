"""The Prefect side of `slt up`: the work pool, the deployments, Late runs, the worker, the banner.

Talks to the Prefect server over its REST API and runs the Prefect CLI as a child process (nothing
in engine/ imports Prefect). What `slt up` does once the server answers (`prepare`):

1. create the `local` process work pool if it is missing (`work-pool create` fails on an existing
   pool, and `deploy --all` fails without one);
2. `prefect --no-prompt deploy --all` from the checkout's prefect.yaml (idempotent: same names);
3. align each deployment's schedule to the settings in force (prefect.yaml holds the defaults);
4. cancel the runs that went Late while the system was down: the worker would otherwise run them
   all, oldest first (about 13 for a 5-minute schedule after an hour off), and a redeploy keeps them;
5. start one run now of each deployment tagged `at-start` (candle-backfill fills the time the system
   was down; store-maintenance), so a fresh start shows completed runs within minutes.

The worker is a supervised service (`worker_service`) whose flow runs inherit its lower CPU priority.
Every Prefect child process gets `PREFECT_API_URL` explicitly: without it each CLI call would start
a throwaway server of its own.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.config import Settings
from engine.core.errors import SltError
from engine.services import Service, Supervisor

log = logging.getLogger(__name__)

POOL = "local"
AT_START = "at-start"  # the prefect.yaml tag of deployments `slt up` runs once when it starts
STARTED_BY_UP = "slt-up"  # the tag of those runs (scheduled runs carry the deployment's tags, at-start too)
PROJECT_DIR = Path(__file__).resolve().parent.parent  # the checkout: prefect.yaml, flows/, tasks/
NO_TRACKING = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
LATE_GRACE = timedelta(seconds=60)  # a run due this recently is on time, not left over from downtime
DAY_S = 86_400
BUSY = (429, 502, 503, 504)  # the server is busy: ask again
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)


class OrchestrationError(SltError):
    """The Prefect server refused or failed a step of setting up the deployments."""


def schedule_seconds(settings: Settings) -> dict[str, float]:
    """Each deployment's interval schedule as the settings want it (prefect.yaml holds the defaults)."""
    return {"regime-detection": settings.risk_regime_check_interval,
            "retrain": settings.ml_retrain_interval_hours * 3600}


def server_env(settings: Settings) -> dict[str, str]:
    """Retention for the server: finished flow runs and events are vacuumed (runs are kept forever
    by default). Durations as ISO 8601: the events setting rejects plain seconds and the server
    then fails to start."""
    return {"PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
            "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": _iso_seconds(settings.prefect_run_retention_days),
            "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": _iso_seconds(settings.prefect_event_retention_days)}


def _iso_seconds(days: float) -> str:
    return f"PT{int(days * DAY_S)}S"


def server_service(settings: Settings, home: Path, *, extra_env: Mapping[str, str] | None = None) -> Service:
    """The Prefect server (SQLite under `home`) on the configured host and port, with retention on."""
    host, port = settings.host, settings.prefect_port
    return Service(
        name="prefect",
        argv=(sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port), "--analytics-off"),
        env={**NO_TRACKING, "PREFECT_HOME": str(home),
             "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
             "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false", "PREFECT_API_URL": settings.prefect_api_url,
             **server_env(settings), **(extra_env or {})},
        health_url=f"http://{host}:{port}/api/health", url=f"http://{host}:{port}", port=port,
        port_variable="SLT_PREFECT_PORT", log_file=settings.data_dir / "logs" / "prefect.log", restart=True)


def client_env(settings: Settings) -> dict[str, str]:
    """What every Prefect client process (CLI, worker, flow runs) needs."""
    return {**NO_TRACKING, "PREFECT_API_URL": settings.prefect_api_url}


def worker_service(settings: Settings, *, poll_seconds: float | None = None) -> Service:
    """The process worker of the `local` pool (flows.worker lowers its priority first)."""
    env = client_env(settings)
    if poll_seconds is not None:
        env["PREFECT_WORKER_QUERY_SECONDS"] = str(poll_seconds)
    return Service(name="worker", argv=(sys.executable, "-m", "flows.worker", "--pool", POOL, "--name", "slt-local"),
                   env=env, log_file=settings.data_dir / "logs" / "worker.log", after=("prefect",), restart=True)


# ---- the REST API ------------------------------------------------------------------------------
class PrefectApi:
    """The few endpoints `slt up` and `slt flows` need, as JSON over HTTP."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:  # a busy 2-core machine: its SQLite can be slow
        self.url = url.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One request; 404 is None. A busy server (its SQLite locked: 503, or 429, 502, 504) is
        asked again after 0.5, 1, 2 and 4 s, as Prefect's own client does."""
        data = None if body is None else json.dumps(body).encode()
        for delay in (*RETRY_DELAYS, None):
            request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                    text = response.read()
                break
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                if exc.code in BUSY and delay is not None:
                    time.sleep(delay)
                    continue
                raise OrchestrationError(f"Prefect API {method} {path}: HTTP {exc.code}: "
                                         f"{exc.read()[:300].decode(errors='replace')}") from None
            except (urllib.error.URLError, OSError) as exc:
                raise OrchestrationError(f"Prefect API at {self.url} unreachable: {exc}") from None
        return json.loads(text) if text else None

    def work_pool(self, name: str) -> dict[str, Any] | None:
        return self.call("GET", f"/work_pools/{name}")

    def deployments(self) -> list[dict[str, Any]]:
        return self.call("POST", "/deployments/filter", {"sort": "NAME_ASC"}) or []

    def flow_runs(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.call("POST", "/flow_runs/filter", dict(body)) or []

    def next_run(self, deployment_id: str) -> dict[str, Any] | None:
        runs = self.flow_runs({"deployments": {"id": {"any_": [deployment_id]}},
                               "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
                               "sort": "EXPECTED_START_TIME_ASC", "limit": 1})
        return runs[0] if runs else None

    def last_run(self, deployment_id: str) -> dict[str, Any] | None:
        runs = self.flow_runs({"deployments": {"id": {"any_": [deployment_id]}},
                               "flow_runs": {"state": {"type": {"not_any_": ["SCHEDULED"]}}},
                               "sort": "START_TIME_DESC", "limit": 1})
        return runs[0] if runs else None

    def cancel(self, run_id: str, message: str) -> None:
        self.call("POST", f"/flow_runs/{run_id}/set_state",
                  {"state": {"type": "CANCELLED", "name": "Cancelled", "message": message}, "force": True})


# ---- the steps ---------------------------------------------------------------------------------
def _prefect_cli(settings: Settings, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prefect", *args], cwd=PROJECT_DIR, capture_output=True, text=True,
                          env={**os.environ, **client_env(settings)}, timeout=timeout, check=False)


def ensure_pool(api: PrefectApi, settings: Settings) -> bool:
    """Create the `local` process pool unless it exists; True if it was created."""
    if api.work_pool(POOL) is not None:
        return False
    done = _prefect_cli(settings, "work-pool", "create", POOL, "--type", "process")
    if done.returncode != 0 and api.work_pool(POOL) is None:
        raise OrchestrationError(f"could not create work pool {POOL!r}: {_tail(done)}")
    return True


def deploy_all(settings: Settings) -> None:
    """`prefect --no-prompt deploy --all` from the checkout (one bad entry aborts the rest: say so)."""
    done = _prefect_cli(settings, "--no-prompt", "deploy", "--all")
    if done.returncode != 0:
        raise OrchestrationError(f"prefect deploy --all failed (exit {done.returncode}); check prefect.yaml: "
                                 f"{_tail(done)}")


def align_schedules(api: PrefectApi, settings: Settings) -> list[str]:
    """Set each deployment's interval schedule to the settings' value where it differs; the names changed."""
    wanted, changed = schedule_seconds(settings), []
    for deployment in api.deployments():
        seconds = wanted.get(deployment["name"])
        for schedule in deployment.get("schedules") or []:
            interval = schedule["schedule"].get("interval")
            if seconds is None or interval is None or abs(float(interval) - seconds) < 1e-6:
                continue
            api.call("PATCH", f"/deployments/{deployment['id']}/schedules/{schedule['id']}",
                     {"schedule": {**schedule["schedule"], "interval": seconds}})
            changed.append(deployment["name"])
    return changed


def cancel_late(api: PrefectApi, now: datetime | None = None) -> int:
    """Cancel every run of the `local` pool still waiting to start that was due before now (less a
    minute of grace): they went Late while the system was down. How many were cancelled."""
    before = ((now or datetime.now(UTC)) - LATE_GRACE).isoformat()
    cancelled = 0
    while True:
        runs = api.flow_runs({"work_pools": {"name": {"any_": [POOL]}},
                              "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}},
                                            "expected_start_time": {"before_": before}},
                              "sort": "EXPECTED_START_TIME_ASC", "limit": 200})
        if not runs:
            return cancelled
        for run in runs:
            api.cancel(run["id"], "due while SelfLearningTrader was down; cancelled at start-up")
        cancelled += len(runs)


def run_at_start(api: PrefectApi) -> list[str]:
    """One run now of each deployment tagged `at-start` that has no such run waiting or running; the names."""
    started = []
    for deployment in api.deployments():
        if AT_START not in (deployment.get("tags") or []):
            continue
        pending = api.flow_runs({"deployments": {"id": {"any_": [deployment["id"]]}},
                                 "flow_runs": {"state": {"type": {"any_": ["SCHEDULED", "PENDING", "RUNNING"]}},
                                               "tags": {"all_": [STARTED_BY_UP]}}, "limit": 1})
        if not pending:
            api.call("POST", f"/deployments/{deployment['id']}/create_flow_run", {"tags": [STARTED_BY_UP]})
            started.append(deployment["name"])
    return started


@dataclass(frozen=True)
class Prepared:
    pool_created: bool
    realigned: list[str]
    late_cancelled: int
    started: list[str]


def prepare(settings: Settings) -> Prepared:
    """Steps 1-5 of the module docstring, against a healthy server."""
    api = PrefectApi(settings.prefect_api_url)
    created = ensure_pool(api, settings)
    deploy_all(settings)
    realigned = align_schedules(api, settings)
    late = cancel_late(api)
    started = run_at_start(api)
    log.info("prefect: pool %s %s, deployments applied%s; %d late run(s) cancelled; started now: %s", POOL,
             "created" if created else "exists", f", schedules realigned: {', '.join(realigned)}" if realigned else "",
             late, ", ".join(started) or "none")
    return Prepared(created, realigned, late, started)


# ---- what people see ---------------------------------------------------------------------------
def describe_schedule(deployment: Mapping[str, Any]) -> str:
    """'every 300 s', 'cron 0 3 * * *' or 'on demand' (several joined by ', ')."""
    parts = []
    for item in deployment.get("schedules") or []:
        schedule = item["schedule"]
        if schedule.get("interval") is not None:
            parts.append(f"every {_duration(float(schedule['interval']))}")
        elif schedule.get("cron"):
            parts.append(f"cron {schedule['cron']}")
        elif schedule.get("rrule"):
            parts.append(f"rrule {schedule['rrule']}")
        if item.get("active") is False:
            parts[-1] += " (paused)"
    return ", ".join(parts) or "on demand"


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0 and seconds >= 600:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def short_time(iso: str | None) -> str:
    return "-" if not iso else iso.replace("T", " ")[:19] + " UTC"


def deployment_lines(api: PrefectApi) -> list[str]:
    """One banner line per deployment: name, schedule, next run."""
    lines = []
    for deployment in api.deployments():
        upcoming = api.next_run(deployment["id"])
        lines.append(f"{deployment['name']:18} {describe_schedule(deployment):14} next "
                     f"{short_time(upcoming['expected_start_time'] if upcoming else None)}")
    return lines


def _tail(done: subprocess.CompletedProcess[str], lines: int = 12) -> str:
    return "\n".join((done.stdout + done.stderr).strip().splitlines()[-lines:])


def wait_worker_online(api: PrefectApi, stop: threading.Event, timeout: float = 90.0) -> bool:
    """Block until the `local` pool reports a worker (status READY); False if `stop` was set first."""
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        pool = api.work_pool(POOL) or {}
        if pool.get("status") == "READY":
            return True
        if time.monotonic() > deadline:
            raise OrchestrationError(f"no worker came online on pool {POOL!r} within {timeout:.0f} s")
        stop.wait(0.25)
    return False


def start_flows(settings: Settings, supervisor: Supervisor, stop: threading.Event,
                poll_seconds: float | None = None) -> list[str]:
    """Prepare the deployments, then start the worker (after the Late runs are gone, so it cannot
    pick them up) and wait until it is online; the banner lines of the deployments."""
    prepare(settings)
    supervisor.launch(worker_service(settings, poll_seconds=poll_seconds))
    api = PrefectApi(settings.prefect_api_url)
    wait_worker_online(api, stop)
    return deployment_lines(api)
