"""The equity and drawdown PNG of a backtest (matplotlib, Agg: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path


def equity_plot(equity: Sequence[tuple[int, Decimal]], initial: Decimal, path: Path, *, title: str = "") -> Path:
    """Equity (top) and drawdown from the running peak (bottom) at every bar close."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [datetime.fromtimestamp(t / 1000, tz=UTC) for t, _ in equity]
    values = [float(v) for _, v in equity]
    peak, drawdowns = float(initial), []
    for v in values:
        peak = max(peak, v)
        drawdowns.append((v / peak - 1.0) * 100 if peak > 0 else 0.0)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[3, 1])
    try:
        top.plot(times, values, linewidth=0.9, color="tab:blue")
        top.axhline(float(initial), color="grey", linewidth=0.6, linestyle="--")
        top.set_ylabel("equity (USDT)")
        top.set_title(title or "Backtest equity")
        top.grid(alpha=0.3)
        bottom.fill_between(times, drawdowns, 0.0, color="tab:red", alpha=0.4, linewidth=0)
        bottom.set_ylabel("drawdown (%)")
        bottom.grid(alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path
