"""The monitor's settings: defaults, validation, and the webhook URL treated as a secret."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from engine.config import ConfigError, load_settings
from engine.health.thresholds import Thresholds

HOOK = "https://hooks.example.invalid/services/T000/B000/plantedwebhooksecret"
PURE = ("levels", "thresholds", "alerts", "report", "websocket", "memory", "api", "database", "trading", "latency")


def test_defaults_are_the_original_thresholds(tmp_path: Path) -> None:
    s = load_settings({}, env_file=tmp_path / "none")
    assert (s.health_host, s.health_port, s.alert_webhook_url.reveal()) == ("127.0.0.1", 8766, "")
    assert Thresholds.from_settings(s) == Thresholds()
    assert (Thresholds().memory_percent, Thresholds().cpu_percent, Thresholds().thread_count,
            Thresholds().api_latency_ms, Thresholds().ws_lag_seconds) == (85, 90, 500, 5000, 60)


def test_thresholds_come_from_the_settings(tmp_path: Path) -> None:
    s = load_settings({"SLT_HEALTH_MEMORY_PERCENT": "70", "SLT_HEALTH_CPU_PERCENT": "150",
                       "SLT_HEALTH_THREAD_COUNT": "64", "SLT_HEALTH_API_LATENCY_MS": "800",
                       "SLT_WS_LAG_SECONDS": "5", "SLT_HEALTH_RSS_MB": "512"}, env_file=tmp_path / "none")
    assert Thresholds.from_settings(s) == Thresholds(70, 512, 150, 64, 800, 5, 0.05)


def test_the_webhook_url_is_masked_everywhere_settings_show(tmp_path: Path) -> None:
    s = load_settings({"SLT_ALERT_WEBHOOK_URL": HOOK}, env_file=tmp_path / "none")
    assert s.alert_webhook_url.reveal() == HOOK
    assert "plantedwebhooksecret" not in repr(s) and "plantedwebhooksecret" not in str(s)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("SLT_ALERT_WEBHOOK_URL", "ftp://x/plantedwebhooksecret", "SLT_ALERT_WEBHOOK_URL=<hidden> is not allowed"),
    ("SLT_HEALTH_PORT", "0", "SLT_HEALTH_PORT='0' is not allowed: expected a TCP port"),
    ("SLT_HEALTH_MEMORY_PERCENT", "120", "expected a percentage from 1 to 100"),
])
def test_bad_values_are_named_and_the_url_is_not_shown(tmp_path: Path, name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({name: value}, env_file=tmp_path / "none")
    assert expected in str(info.value) and "plantedwebhooksecret" not in str(info.value)


def test_the_rules_are_pure() -> None:
    package = Path(__file__).resolve().parents[2] / "engine" / "health"
    for name in PURE:
        tree = ast.parse((package / f"{name}.py").read_text())
        modules = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        modules |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert modules <= {"__future__", "collections", "dataclasses", "enum", "typing", "datetime", "engine"}, name
