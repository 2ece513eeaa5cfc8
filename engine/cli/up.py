"""`slt up` (what `make run` starts): the local services, the store, and a clean stop on Ctrl-C.

The services are a list of declarations (`services(settings)`): Prefect, MLflow, the exchange
simulator (with `SLT_EXCHANGE=sim`) and the trading engine (`python -m engine`), which starts once
the simulator answers its health check. All state lives under the data directory:
data/prefect (Prefect's SQLite database), data/mlflow (MLflow's SQLite backend and artifacts),
data/lake (the store), data/logs (one log file per service). Nothing is sent to the internet:
Prefect's and MLflow's analytics and telemetry are switched off.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from engine import orchestration
from engine.config import Settings
from engine.core.errors import SltError
from engine.services import Service, ServiceFailed, Supervisor, check_port_free
from engine.store import init_store

NO_TRACKING = {"DO_NOT_TRACK": "1"}


def services(settings: Settings) -> list[Service]:
    """Every service `slt up` runs, in start order."""
    data, logs, host = settings.data_dir, settings.data_dir / "logs", settings.host
    prefect_home, mlflow_home = data / "prefect", data / "mlflow"
    return [
        orchestration.server_service(settings, prefect_home),
        Service(
            name="mlflow",
            argv=(sys.executable, "-m", "mlflow", "server", "--host", host, "--port", str(settings.mlflow_port),
                  "--workers", "1", "--backend-store-uri", f"sqlite:///{mlflow_home / 'mlflow.db'}",
                  "--artifacts-destination", str(mlflow_home / "artifacts")),
            # The server's job runner (GenAI jobs, 5 extra processes) is not used here: off.
            env={**NO_TRACKING, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            restart=True,
            health_url=f"http://{host}:{settings.mlflow_port}/health",
            url=f"http://{host}:{settings.mlflow_port}", port=settings.mlflow_port,
            port_variable="SLT_MLFLOW_PORT", log_file=logs / "mlflow.log"),
        *trading_services(settings),
    ]


def trading_services(settings: Settings) -> list[Service]:
    """The exchange simulator (when trading on it) and the engine, which starts once it answers."""
    logs, host = settings.data_dir / "logs", settings.host
    found: list[Service] = []
    if settings.exchange == "sim":
        found.append(Service(
            name="sim", argv=(sys.executable, "-m", "engine.sim", "--port", str(settings.sim_port),
                              "--state", str(settings.data_dir / "sim" / "state.pkl")),
            health_url=f"http://{host}:{settings.sim_port}/fapi/v1/ping", url=f"http://{host}:{settings.sim_port}",
            port=settings.sim_port, port_variable="SLT_SIM_PORT", log_file=logs / "sim.log"))
    found.append(Service(name="engine", argv=(sys.executable, "-m", "engine"), log_file=logs / "engine.log",
                         port=settings.health_port, port_variable="SLT_HEALTH_PORT",  # its /health and /metrics
                         after=("sim",) if settings.exchange == "sim" else ()))
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-flows", action="store_true", help="start without the Prefect worker and deployments")


def banner(settings: Settings, started: list[Service], seconds: float) -> str:
    lines = [f"SelfLearningTrader is up ({seconds:.1f} s). Ctrl-C stops everything."]
    titles = {"prefect": "Prefect UI", "mlflow": "MLflow UI", "sim": "Exchange sim"}
    lines += [f"  {titles.get(s.name, s.name):12} {s.url}" for s in started if s.url]
    if any(s.name == "engine" for s in started):
        lines.append(f"  {'Engine':12} trading {', '.join(settings.symbols)} on {settings.exchange} "
                     f"(log {settings.data_dir / 'logs' / 'engine.log'}); PnL: slt pnl")
        health = f"http://{settings.health_host}:{settings.health_port}"
        lines += [f"  {'Health':12} {health}/health  (slt health)", f"  {'Metrics':12} {health}/metrics"]
    lines += [f"  {'Store':12} {settings.store_catalog}  (Parquet files: {settings.store_data_path})",
              f"  {'Query':12} slt sql \"SELECT * FROM trades ORDER BY opened_at DESC LIMIT 10\"",
              f"  {'':12} slt sql     (opens the DuckDB prompt over the lake, read-only)",
              f"  {'Logs':12} {settings.data_dir / 'logs'}"]
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    declared = services(settings)
    started_at = time.monotonic()
    supervisor = Supervisor(declared)
    try:
        for service in declared:
            check_port_free(service, settings.host)
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        supervisor.start()
        init_store(settings)  # while the servers start
        if not supervisor.wait_healthy(stop):
            return 0
        flows = None if args.no_flows else orchestration.start_flows(settings, supervisor, stop)
        print(banner(settings, supervisor.services, time.monotonic() - started_at), flush=True)
        print("\n".join(f"  {'Flows':12} {line}" for line in flows or []), flush=True)
        while not stop.wait(0.5):
            supervisor.revive()  # Prefect, MLflow and the worker come back; the engine trades on meanwhile
            if (dead := supervisor.dead()) is not None:
                raise ServiceFailed(f"{dead.name} exited with code {supervisor.processes[dead.name].returncode}; "
                                    f"see {dead.log_file}")
        return 0
    except SltError as exc:
        print(f"slt up: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping services ...", file=sys.stderr, flush=True)
        supervisor.stop()
        print("stopped.", file=sys.stderr, flush=True)
