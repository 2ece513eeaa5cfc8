from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigError, Settings, load_settings
from engine.logs import SecretMaskingFilter, StderrHandler, register_secret


def test_defaults_match_the_original_system(tmp_path: Path) -> None:
    s = load_settings({}, env_file=tmp_path / "none")
    assert (s.bootstrap_trade_limit, s.bootstrap_min_confidence, s.bootstrap_min_win_probability) == (50, 0.25, 0.20)
    assert (s.health_check_interval, s.health_alert_threshold) == (60, 3)
    assert (s.ml_retrain_interval_hours, s.ml_drift_threshold, s.risk_regime_check_interval) == (24, 0.15, 300)
    assert s.exchange == "sim" and s.exchange_rest_url.startswith("http://127.0.0.1:")
    assert s.store_catalog.endswith("lake/catalog.sqlite")


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("BOOTSTRAP_MIN_CONFIDENCE", "1.7", "BOOTSTRAP_MIN_CONFIDENCE='1.7' is not allowed: expected a number from 0 to 1"),
    ("HEALTH_CHECK_INTERVAL", "-5", "HEALTH_CHECK_INTERVAL='-5' is not allowed: expected seconds, greater than 0"),
    ("BOOTSTRAP_TRADE_LIMIT", "ten", "BOOTSTRAP_TRADE_LIMIT='ten' is not allowed: expected an integer >= 0"),
    ("ML_DRIFT_THRESHOLD", "nan", "ML_DRIFT_THRESHOLD='nan' is not allowed"),
    ("SLT_SYMBOLS", "btc usdt", "SLT_SYMBOLS='btc usdt' is not allowed: expected a comma-separated list"),
    ("SLT_SIM_SPEED", "0", "SLT_SIM_SPEED='0' is not allowed"),
    ("SLT_EXCHANGE", "kraken", "SLT_EXCHANGE='kraken' is not allowed: expected one of sim, testnet, binance"),
    ("SLT_BOOTSTRAP_LIMIT", "3", "SLT_BOOTSTRAP_LIMIT is not a known setting"),
])
def test_bad_values_name_variable_value_and_what_is_allowed(tmp_path: Path, name: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({name: value}, env_file=tmp_path / "none")
    assert expected in str(info.value)


def test_unknown_variable_suggests_the_close_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"SLT_SIM_SPED is not a known setting \(did you mean SLT_SIM_SPEED\?\)"):
        load_settings({"SLT_SIM_SPED": "max"}, env_file=tmp_path / "none")


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"BOOTSTRAP_MIN_CONFIDENCE": "1.7", "HEALTH_CHECK_INTERVAL": "-5"}, env_file=tmp_path / "none")
    assert "BOOTSTRAP_MIN_CONFIDENCE" in str(info.value) and "HEALTH_CHECK_INTERVAL" in str(info.value)


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nexport BOOTSTRAP_TRADE_LIMIT=7\nSLT_SYMBOLS='ethusdt, btcusdt'\nSLT_SIM_SPEED=max\n")
    s = load_settings({"BOOTSTRAP_TRADE_LIMIT": "9"}, env_file=env_file)
    assert s.bootstrap_trade_limit == 9
    assert s.symbols == ("ETHUSDT", "BTCUSDT")
    assert s.sim_speed == float("inf")


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_settings({}, env_file=tmp_path / "none")
    with pytest.raises(AttributeError):
        s.bootstrap_trade_limit = 1  # type: ignore[misc]


def test_paths_follow_the_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    assert s.journal_dir == (tmp_path / "d" / "journal").resolve()
    assert s.store_catalog == f"sqlite:{(tmp_path / 'd' / 'lake' / 'catalog.sqlite').resolve()}"


SECRET = "s3cr3t-VALUE-abcdefghijklmnopqrstuvwxyz0123456789"


def test_secret_never_in_repr_or_error(tmp_path: Path) -> None:
    s = load_settings({"SLT_API_KEY": "k" * 20, "SLT_API_SECRET": SECRET}, env_file=tmp_path / "none")
    assert SECRET not in repr(s) and SECRET not in str(s) and SECRET not in f"{s.api_secret}"
    assert s.api_secret.reveal() == SECRET
    with pytest.raises(ConfigError) as info:
        load_settings({"SLT_API_SECRET": SECRET, "SLT_NOPE": "1"}, env_file=tmp_path / "none")
    assert SECRET not in str(info.value)


def test_log_filter_masks_registered_secrets(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    register_secret(SECRET)
    logger = logging.getLogger("test.secret")
    logger.addFilter(SecretMaskingFilter())
    with caplog.at_level(logging.INFO, logger="test.secret"):
        logger.info("connecting with %s", SECRET)
    assert SECRET not in caplog.text and "********" in caplog.text


def test_log_handler_follows_sys_stderr_after_it_is_swapped_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest (or a notebook) swaps sys.stderr; a handler that kept the first one wrote
    "ValueError: I/O operation on closed file" for every record after it was closed."""
    import io
    import logging

    first, second = io.StringIO(), io.StringIO()
    handler = StderrHandler()
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "applied migration %d", (3,), None)
    monkeypatch.setattr("sys.stderr", first)
    handler.handle(record)
    first.close()
    monkeypatch.setattr("sys.stderr", second)
    handler.handle(record)
    assert second.getvalue() == "applied migration 3\n"


@pytest.mark.integration  # runs `slt config` as a process
def test_cli_exits_with_the_message_on_bad_config(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "engine.cli", "config"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "BOOTSTRAP_MIN_CONFIDENCE": "1.7",
                               "SLT_ENV_FILE": str(tmp_path / "none")}, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2
    assert "BOOTSTRAP_MIN_CONFIDENCE='1.7' is not allowed: expected a number from 0 to 1" in proc.stderr
    assert "Traceback" not in proc.stderr
