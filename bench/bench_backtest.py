"""Backtest benchmark (issue #15), against references measured in the same run.

* backtest_speed: bars per second (one bar of one symbol = one bar) of `slt backtest`'s engine, the
  live engine's whole decision path (indicator streams, bootstrap policy and admission, risk manager
  with regimes and the kill switch, sizing, books, protective orders, ledger, funding) against the
  simulator's matching, margin, liquidation and funding at 12 intra-bar path points, on the bundled
  1h history of BTCUSDT, ETHUSDT and XRPUSDT. References on the same bars: backtrader running an
  EMA(12/26) crossover over the three feeds (target >= 10x), and backtesting.py running the same
  crossover symbol by symbol (target >= 1x, extra). Each side runs in its own process, timed from
  reading the Parquet files to the result; peak memory is that process's peak RSS above what it
  held after its imports, per million bars. Each side's CPU time is reported too (`cpu_*`): on a
  machine shared with other work the wall-clock ratio depends on what ran beside each side, the CPU
  ratio much less.

backtrader and backtesting.py are bench-only dependencies, pinned in requirements-bench.lock (`make bench`
installs them; the `bench` extra in pyproject.toml); without them the reference is reported as missing."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import BenchResult, machine_load

REPO = Path(__file__).resolve().parent.parent
MARKET = REPO / "data" / "market"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "XRPUSDT")
FEE = 0.0005


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def _report(bars: int, began: float, baseline_kb: int, cpu_began: float, **extra: Any) -> None:
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"bars": bars, "seconds": seconds, "cpu_seconds": time.process_time() - cpu_began,
                      "peak_rss_mb": peak / 1024, "peak_above_imports_mb": (peak - baseline_kb) / 1024, **extra}))


# ---- the three sides, each run as `python -m bench.bench_backtest SIDE` -------------------------
def _engine(ticks: int) -> None:
    import logging
    from decimal import Decimal

    from engine.backtest.session import Request, run_backtest
    from engine.config import load_settings

    logging.getLogger("engine").setLevel(logging.WARNING)
    settings = load_settings({"SLT_INTERVAL": "1h", "SLT_SYMBOLS": ",".join(SYMBOLS),
                              "SLT_MARKET_DATA_DIR": str(MARKET)}, env_file=None)
    baseline = _rss_kb()
    began, cpu_began = time.perf_counter(), time.process_time()
    outcome = run_backtest(settings, Request(interval="1h", equity=Decimal(10_000), ticks_per_bar=ticks))
    run = outcome.run
    _report(run.bars * len(SYMBOLS), began, baseline, cpu_began, start_ms=run.start_ms, end_ms=run.end_ms,
            trades=outcome.report.trades.trades, net_pnl=str(outcome.report.curve.net_pnl), steps=run.steps,
            engine_seconds=run.seconds)


def _frames(start_ms: int, end_ms: int) -> dict[str, Any]:
    import pandas as pd

    out = {}
    for symbol in SYMBOLS:
        df = pd.read_parquet(MARKET / f"{symbol}-perp-klines-1h.parquet",
                             columns=["open_time", "open", "high", "low", "close", "volume"])
        df = df[(df.open_time >= start_ms) & (df.open_time < end_ms)]
        df.index = pd.to_datetime(df.open_time, unit="ms")
        out[symbol] = df.drop(columns="open_time")
    return out


def _backtrader(start_ms: int, end_ms: int) -> None:
    import backtrader as bt

    baseline = _rss_kb()
    began, cpu_began = time.perf_counter(), time.process_time()
    frames = _frames(start_ms, end_ms)

    class Cross(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.cross = {d: bt.ind.CrossOver(bt.ind.EMA(d.close, period=12), bt.ind.EMA(d.close, period=26))
                          for d in self.datas}

        def next(self) -> None:
            for d in self.datas:
                signal = self.cross[d][0]
                if signal > 0:
                    self.order_target_percent(d, target=0.3)
                elif signal < 0:
                    self.order_target_percent(d, target=-0.3)

    cerebro = bt.Cerebro(stdstats=False)
    for symbol, df in frames.items():
        cerebro.adddata(bt.feeds.PandasData(dataname=df), name=symbol)
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(10_000.0)
    cerebro.broker.setcommission(commission=FEE)
    cerebro.run()
    _report(sum(len(df) for df in frames.values()), began, baseline, cpu_began, final_value=cerebro.broker.getvalue())


def _backtesting(start_ms: int, end_ms: int) -> None:
    import warnings

    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    def ema(values: Any, n: int) -> Any:
        return pd.Series(values).ewm(span=n, adjust=False).mean()

    class Cross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(ema, self.data.Close, 12)
            self.slow = self.I(ema, self.data.Close, 26)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()
                self.sell()

    baseline = _rss_kb()
    began, cpu_began = time.perf_counter(), time.process_time()
    frames = _frames(start_ms, end_ms)
    trades = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for df in frames.values():
            data = df.rename(columns=str.capitalize)
            stats = Backtest(data, Cross, cash=10_000_000, commission=FEE, finalize_trades=True).run()
            trades += int(stats["# Trades"])
    _report(sum(len(df) for df in frames.values()), began, baseline, cpu_began, trades=trades)


def _child(*args: str, timeout: float = 1800) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.bench_backtest", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _reference(name: str, module: str, start_ms: int, end_ms: int) -> dict[str, Any] | None:
    try:
        __import__(module)
    except ImportError:
        return None
    return _child(name, str(start_ms), str(end_ms))


def run() -> list[BenchResult]:
    load_before = machine_load()
    engine = _child("engine", "12")
    window = (engine["start_ms"], engine["end_ms"])
    coarse = _child("engine", "3")
    backtrader = _reference("backtrader", "backtrader", *window)
    backtesting = _reference("backtesting", "backtesting", *window)
    speed = engine["bars"] / engine["seconds"]

    def rate(side: dict[str, Any] | None) -> float:
        return side["bars"] / side["seconds"] if side else float("nan")

    def cpu_rate(side: dict[str, Any] | None) -> float | None:
        return round(side["bars"] / side["cpu_seconds"], 1) if side else None

    def per_million(side: dict[str, Any] | None) -> float | None:
        return round(side["peak_above_imports_mb"] / side["bars"] * 1e6, 1) if side else None

    extra = {
        "bars": engine["bars"], "seconds": round(engine["seconds"], 2), "symbols": list(SYMBOLS), "interval": "1h",
        "ticks_per_bar": 12, "trades": engine["trades"], "net_pnl": engine["net_pnl"],
        "peak_rss_mb": round(engine["peak_rss_mb"], 1),
        "peak_mb_per_million_bars": per_million(engine),
        "ticks_per_bar_3_bars_per_s": round(rate(coarse), 1),
        "backtrader_bars_per_s": round(rate(backtrader), 1) if backtrader else None,
        "backtrader_peak_mb_per_million_bars": per_million(backtrader),
        "backtesting_py_bars_per_s": round(rate(backtesting), 1) if backtesting else None,
        "backtesting_py_peak_mb_per_million_bars": per_million(backtesting),
        "ratio_vs_backtesting_py": round(speed / rate(backtesting), 3) if backtesting else None,
        "backtesting_py_target": ">= 1",
        "cpu_seconds": round(engine["cpu_seconds"], 2), "cpu_bars_per_s": cpu_rate(engine),
        "backtrader_cpu_bars_per_s": cpu_rate(backtrader), "backtesting_py_cpu_bars_per_s": cpu_rate(backtesting),
        "ratio_cpu": round(cpu_rate(engine) / cpu_rate(backtrader), 4) if backtrader else None,
        "load_before": load_before, "load_after": machine_load(),
    }
    return [BenchResult("backtest_speed", speed, "bars/s",
                        "backtrader EMA(12/26) crossover, same bars, same run" if backtrader else
                        "backtrader not installed (pip install backtrader)", rate(backtrader) if backtrader else 0.0,
                        True, ">= 10", extra)]


if __name__ == "__main__":
    side = sys.argv[1]
    if side == "engine":
        _engine(int(sys.argv[2]))
    elif side == "backtrader":
        _backtrader(int(sys.argv[2]), int(sys.argv[3]))
    elif side == "backtesting":
        _backtesting(int(sys.argv[2]), int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown side {side!r}")
