"""TA-Lib's global settings that would silently change results are refused; backends are explicit."""

from __future__ import annotations

import pytest
import talib

from engine.core.errors import ConfigError
from engine.indicators import as_ohlcv, compute, resolve_backend, standard_frame
from engine.indicators.talib_backend import UNSTABLE_FUNCTIONS, check_settings, talib_available
from tests.indicators.conftest import klines


def test_changed_unstable_period_is_refused() -> None:
    data = klines("XRPUSDT-perp-klines-8h-2021-11.parquet")
    talib.set_unstable_period("EMA", 10)
    try:
        with pytest.raises(ConfigError, match="unstable periods were changed"):
            compute(data, backend="talib")
        compute(data, backend="numpy")  # the fallback does not depend on TA-Lib's settings
    finally:
        talib.set_unstable_period("EMA", 0)
    assert compute(data, backend="talib").height == data.height


def test_metastock_compatibility_is_refused() -> None:
    """The rule itself: TA-Lib's Metastock mode (different seeds) is refused, whatever TA-Lib build reads it."""
    defaults = dict.fromkeys(UNSTABLE_FUNCTIONS, 0)
    check_settings(defaults, 0)
    with pytest.raises(ConfigError, match="Metastock compatibility mode"):
        check_settings(defaults, 1)
    with pytest.raises(ConfigError, match=r"unstable periods were changed \({'RSI': 3}\)"):
        check_settings({**defaults, "RSI": 3}, 0)


def test_metastock_call_is_refused_or_has_no_effect() -> None:
    """Through TA-Lib itself: where the build takes the Metastock mode the engine refuses it; the bundled
    TA-Lib 0.8 ignores the call (get_compatibility stays 0, values unchanged), which is also safe."""
    bars = as_ohlcv(klines("XRPUSDT-perp-klines-8h-2021-11.parquet"))
    default = standard_frame(bars, backend="talib")
    talib.set_compatibility(1)
    try:
        if talib.get_compatibility() != 0:
            with pytest.raises(ConfigError, match="Metastock"):
                standard_frame(bars, backend="talib")
        else:
            assert standard_frame(bars, backend="talib").equals(default)
    finally:
        talib.set_compatibility(0)


def test_backend_selection() -> None:
    assert talib_available()
    assert resolve_backend("auto") == "talib" and resolve_backend("numpy") == "numpy"
    with pytest.raises(ConfigError, match="backend='pandas' is not allowed"):
        resolve_backend("pandas")


def test_parallel_and_sequential_paths_agree() -> None:
    bars = as_ohlcv(klines("ETHUSDT-perp-klines-1h.parquet"))
    for backend in ("talib", "numpy"):
        assert standard_frame(bars, backend=backend, parallel=True).equals(
            standard_frame(bars, backend=backend, parallel=False))
