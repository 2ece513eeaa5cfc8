"""Shared fixtures: isolated settings under a temporary data dir, and free loopback ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from engine.config import Settings, load_settings
from tests.sim.harness import sim, sim_factory, sim_process, sim_process_factory  # noqa: F401 - shared fixtures

REPO = Path(__file__).resolve().parent.parent
MARKET_DATA = REPO / "data" / "market"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose state lives in a fresh temporary directory; market data from the repo."""
    return load_settings({
        "SLT_DATA_DIR": str(tmp_path / "data"),
        "SLT_MARKET_DATA_DIR": str(MARKET_DATA),
        "SLT_SIM_PORT": str(free_port()),
        "SLT_PREFECT_PORT": str(free_port()),
        "SLT_MLFLOW_PORT": str(free_port()),
    }, env_file=tmp_path / "no.env")
