"""A real Prefect server on 127.0.0.1 for the orchestration tests (temporary PREFECT_HOME), started
the way `slt up` starts it (retention on), with a 2 s scheduler loop."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine.child import free_port
from engine.config import Settings, load_settings
from engine.orchestration import server_service
from engine.services import Supervisor

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "prefect.yaml").read_text())
DEPLOYMENTS = sorted(d["name"] for d in SPEC["deployments"])
AT_START = sorted(d["name"] for d in SPEC["deployments"] if "at-start" in d.get("tags", []))


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Settings, dict[str, str], Supervisor]]:
    port = free_port()   # the OS picks it: parallel test workers never race for one range
    env = {"SLT_DATA_DIR": str(tmp_path / "data"), "SLT_PREFECT_PORT": str(port), "SLT_SYMBOLS": "BTCUSDT",
           "SLT_MARKET_DATA_DIR": str(Path(__file__).resolve().parents[2] / "data" / "market"),
           **getattr(request, "param", {})}  # more settings: @pytest.mark.parametrize("server", [{...}], indirect=True)
    settings = load_settings(env, env_file=tmp_path / "no.env")
    home = tmp_path / "prefect"
    prefect = server_service(settings, home, extra_env={"PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2"})
    supervisor = Supervisor([prefect])
    old = {k: os.environ.get(k) for k in (*env, "PREFECT_HOME")}
    os.environ.update({**env, "PREFECT_HOME": str(home)})  # the worker and its flow runs read these
    try:
        supervisor.start()
        assert supervisor.wait_healthy(threading.Event())
        yield settings, env, supervisor
    finally:
        supervisor.stop()
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait(what: str, check, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()):
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


