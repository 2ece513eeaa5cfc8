"""`slt up` starts real Prefect and MLflow servers, the simulator and the engine on free loopback ports,
initialises the store, and on SIGINT stops every process it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from engine.child import answers as healthy
from engine.child import free_port
from engine.config import Settings
from engine.services import Service, ServiceFailed, Supervisor, check_port_free
from tests.conftest import REPO
from tests.orchestration.conftest import DEPLOYMENTS

pytestmark = pytest.mark.integration  # starts services as child processes


def test_up_starts_both_servers_and_stops_everything_on_ctrl_c(settings: Settings, tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLT_")},
           "SLT_DATA_DIR": str(settings.data_dir), "SLT_PREFECT_PORT": str(settings.prefect_port),
           "SLT_MLFLOW_PORT": str(settings.mlflow_port), "SLT_SIM_PORT": str(settings.sim_port),
           "SLT_HEALTH_PORT": str(settings.health_port),
           "SLT_MARKET_DATA_DIR": str(settings.market_data_dir)}
    errors = tmp_path / "up.stderr"
    with open(errors, "w") as stderr:
        up = subprocess.Popen([sys.executable, "-m", "engine.cli", "up"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=stderr, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read_banner() -> None:
        assert up.stdout is not None
        for line in up.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                ready.set()

    reader = threading.Thread(target=read_banner, daemon=True)
    reader.start()
    try:
        assert ready.wait(150), f"slt up printed no banner: {lines}"
        assert healthy(f"http://127.0.0.1:{settings.prefect_port}/api/health")
        assert healthy(f"http://127.0.0.1:{settings.mlflow_port}/health")
        engine_log = settings.data_dir / "logs" / "engine.log"
        deadline = time.monotonic() + 60
        while "engine ready" not in (engine_log.read_text() if engine_log.exists() else ""):
            assert time.monotonic() < deadline and up.poll() is None, engine_log.read_text()[-3000:]
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.health_port}/metrics", timeout=10) as metrics:
            assert b"slt_health_overall" in metrics.read()  # the engine serves its health endpoints
        # the Prefect server dies: slt up restarts it, and the engine trades on meanwhile
        prefect = next(p for p in psutil.Process(up.pid).children() if "prefect" in " ".join(p.cmdline())
                       and "server" in p.cmdline())
        candles_before = _candles_recorded(settings)
        os.killpg(prefect.pid, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while not (healthy(f"http://127.0.0.1:{settings.prefect_port}/api/health") and
                   _candles_recorded(settings) > candles_before):
            assert time.monotonic() < deadline and up.poll() is None, "Prefect did not come back or the engine stopped"
            time.sleep(0.5)
        children = psutil.Process(up.pid).children(recursive=True)
        assert len(children) >= 5  # prefect, mlflow, the simulator, the engine and the worker
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
        reader.join(10)
        assert up.stdout is not None
        up.stdout.close()
    out = "".join(lines)
    assert up.returncode == 0, errors.read_text()
    assert f"Prefect UI   http://127.0.0.1:{settings.prefect_port}" in out
    assert f"MLflow UI    http://127.0.0.1:{settings.mlflow_port}" in out and "slt sql" in out
    assert f"Exchange sim http://127.0.0.1:{settings.sim_port}" in out and "PnL: slt pnl" in out
    assert f"Health       http://127.0.0.1:{settings.health_port}/health  (slt health)" in out
    assert f"Metrics      http://127.0.0.1:{settings.health_port}/metrics" in out
    flows = {line.split()[1]: line for line in out.splitlines() if line.startswith("  Flows")}
    assert sorted(flows) == DEPLOYMENTS, out  # every deployment of prefect.yaml deployed, the worker online
    assert "every 300 s" in flows["regime-detection"] and "next 20" in flows["regime-detection"]
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left running: {[(p.pid, p.name()) for p in alive]}"
    data = settings.data_dir
    assert (data / "prefect" / "prefect.db").exists() and (data / "mlflow" / "mlflow.db").exists()
    assert (data / "lake" / "catalog.sqlite").exists() and (data / "logs" / "prefect.log").exists()
    assert "Worker 'slt-local' started" in (data / "logs" / "worker.log").read_text()


def _candles_recorded(settings: Settings) -> float:
    """The engine's slt_candles_total from its /metrics (it counts while the engine trades)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.health_port}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("slt_candles_total "):
                return float(line.split()[1])
    return 0.0


def test_a_restartable_service_that_dies_is_restarted_after_a_delay(tmp_path: Path) -> None:
    service = Service("flaky", (sys.executable, "-c", "import sys; sys.exit(3)"), tmp_path / "flaky.log", restart=True)
    supervisor = Supervisor([service])
    supervisor.start()
    try:
        supervisor.processes["flaky"].wait(20)
        assert supervisor.dead() is None and supervisor.dead(restartable=True) is service  # not a reason to stop
        now = time.monotonic()
        assert supervisor.revive(now) == []          # its restart is scheduled (about 1 s), not done at once
        assert supervisor.revive(now + 0.5) == []
        first = supervisor.processes["flaky"]
        assert supervisor.revive(now + 2) == ["flaky"] and supervisor.processes["flaky"] is not first
        supervisor.processes["flaky"].wait(20)
        later = time.monotonic()
        assert supervisor.revive(later) == [] and supervisor.revive(later + 1.5) == []  # the delay doubled
        assert supervisor.revive(later + 3) == ["flaky"]
    finally:
        supervisor.stop()


def test_a_busy_port_is_named_with_its_setting(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        service = Service("prefect", ("true",), tmp_path / "p.log", port=port, port_variable="SLT_PREFECT_PORT")
        with pytest.raises(ServiceFailed, match=f"port {port} on 127.0.0.1 is in use.*SLT_PREFECT_PORT"):
            check_port_free(service, "127.0.0.1")


def test_a_service_that_dies_while_starting_is_reported_with_its_log(tmp_path: Path) -> None:
    service = Service("broken", (sys.executable, "-c", "import sys; print('bad config'); sys.exit(3)"),
                      tmp_path / "broken.log", health_url="http://127.0.0.1:9/never")
    supervisor = Supervisor([service])
    supervisor.start()
    try:
        with pytest.raises(ServiceFailed, match="(?s)broken exited with code 3.*bad config"):
            supervisor.wait_healthy(threading.Event())
    finally:
        supervisor.stop()


def test_stop_kills_descendants_that_ignore_sigterm(tmp_path: Path) -> None:
    stubborn = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
                "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)']); print('up', flush=True); "
                "time.sleep(60)")
    service = Service("stubborn", (sys.executable, "-c", stubborn), tmp_path / "stubborn.log")
    supervisor = Supervisor([service])
    supervisor.start()
    deadline = time.monotonic() + 20
    while "up" not in service.log_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    tree = [psutil.Process(supervisor.processes["stubborn"].pid)]
    tree += tree[0].children(recursive=True)
    assert len(tree) == 2
    started = time.monotonic()
    supervisor.stop(grace=1.0)
    assert time.monotonic() - started < 10
    _, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive


def test_a_service_starts_once_what_it_waits_for_is_healthy(tmp_path: Path) -> None:
    """The engine waits for the simulator: started only after the other answers its health URL."""

    port = free_port()
    server = (sys.executable, "-c", "import http.server, time; time.sleep(1.0); "
              f"http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler).serve_forever()")
    first = Service("first", server, tmp_path / "first.log", health_url=f"http://127.0.0.1:{port}/")
    second = Service("second", (sys.executable, "-c", "import time; print('second up', flush=True); time.sleep(60)"),
                     tmp_path / "second.log", after=("first",))
    supervisor = Supervisor([first, second])
    supervisor.start()
    try:
        assert set(supervisor.processes) == {"first"}
        assert supervisor.wait_healthy(threading.Event())
        assert set(supervisor.processes) == {"first", "second"} and healthy(first.health_url or "")
    finally:
        supervisor.stop()


def test_dependents_stop_before_what_they_depend_on(tmp_path: Path) -> None:
    """The engine is stopped (and has finished) before the exchange it still talks to at shutdown."""
    def waiter(name: str) -> tuple[str, ...]:
        code = ("import signal, sys, time\n"
                "def bye(*_):\n"
                f"    open({str(tmp_path / 'order')!r}, 'a').write({name!r} + ' ' + repr(time.monotonic()) + '\\n')\n"
                "    time.sleep(0.5); sys.exit(0)\n"
                "signal.signal(signal.SIGTERM, bye); print('up', flush=True); time.sleep(60)")
        return (sys.executable, "-c", code)
    exchange = Service("exchange", waiter("exchange"), tmp_path / "exchange.log")
    engine = Service("engine", waiter("engine"), tmp_path / "engine.log", after=("exchange",))
    supervisor = Supervisor([exchange, engine])
    supervisor.start()
    assert supervisor.wait_healthy(threading.Event())
    deadline = time.monotonic() + 20
    while not all("up" in s.log_file.read_text() for s in (exchange, engine) if s.log_file.exists()) or \
            not engine.log_file.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    supervisor.stop()
    lines = (tmp_path / "order").read_text().split()
    assert lines[0::2] == ["engine", "exchange"]
    assert float(lines[3]) - float(lines[1]) >= 0.45  # the exchange got SIGTERM only after the engine exited


def test_slt_up_runs_the_simulator_and_then_the_engine(settings: Settings) -> None:
    from dataclasses import replace

    from engine.cli.up import services
    declared = {s.name: s for s in services(settings)}
    assert list(declared) == ["prefect", "mlflow", "sim", "engine"]
    assert declared["sim"].argv == (sys.executable, "-m", "engine.sim", "--port", str(settings.sim_port),
                                    "--state", str(settings.data_dir / "sim" / "state.pkl"))
    assert declared["sim"].health_url == f"http://127.0.0.1:{settings.sim_port}/fapi/v1/ping"
    assert declared["engine"].argv == (sys.executable, "-m", "engine") and declared["engine"].after == ("sim",)
    live = {s.name: s for s in services(replace(settings, exchange="binance"))}
    assert "sim" not in live and live["engine"].after == ()
