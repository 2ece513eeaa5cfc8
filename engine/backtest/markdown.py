"""The backtest report as text: markdown for `-o DIR` and MLflow, and the lines `slt backtest` prints."""

from __future__ import annotations

from decimal import Decimal

from engine.backtest.report import Report, TradeStats
from engine.core.clock import iso_utc

CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT):,}"


def ratio(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def duration(ms: int) -> str:
    hours = ms / 3_600_000
    return f"{hours / 24:.1f} d" if hours >= 48 else f"{hours:.1f} h"


def _row(name: str, s: TradeStats) -> str:
    return (f"| {name} | {s.trades} | {money(s.net_pnl)} | {s.win_rate:.1%} | {ratio(s.profit_factor)} | "
            f"{money(s.expectancy)} | {money(s.fees)} | {money(s.funding)} |")


def summary(report: Report) -> list[str]:
    """The headline figures, one per line."""
    c, t = report.curve, report.trades
    return [
        f"period      {iso_utc(report.start_ms)} .. {iso_utc(report.end_ms)} ({c.bars} {report.interval} bars, "
        f"{', '.join(report.symbols)})",
        f"equity      {money(c.initial_equity)} -> {money(c.final_equity)} USDT ({c.total_return:+.2%})",
        f"net PnL     {money(c.net_pnl)} USDT after fees {money(c.fees)} and funding {money(c.funding)}",
        f"trades      {t.trades}: win rate {t.win_rate:.1%}, profit factor {ratio(t.profit_factor)}, "
        f"expectancy {money(t.expectancy)} USDT",
        f"risk        Sharpe {ratio(c.sharpe)}, Sortino {ratio(c.sortino)} (annualised on {report.interval} bars), "
        f"max drawdown {c.max_drawdown:.2%} over {c.max_drawdown_bars} bars ({duration(c.max_drawdown_ms)})",
        f"activity    exposure {c.exposure:.1%} of bars, mean gross leverage {c.mean_gross_leverage:.2f}, "
        f"turnover {c.turnover:.1f}x equity ({money(c.traded_notional)} USDT traded)",
    ] + [f"warning     {w}" for w in report.warnings]


def markdown(report: Report, *, plot: str | None = None, title: str = "Backtest") -> str:
    c = report.curve
    lines = [f"# {title}", ""]
    lines += ["```", *summary(report), "```", ""]
    if plot:
        lines += [f"![equity and drawdown]({plot})", ""]
    lines += ["## Figures", "", "| figure | value |", "|---|---|",
              f"| initial equity | {money(c.initial_equity)} |", f"| final equity | {money(c.final_equity)} |",
              f"| net PnL (after fees and funding) | {money(c.net_pnl)} |", f"| fees paid | {money(c.fees)} |",
              f"| funding (+ received, - paid) | {money(c.funding)} |", f"| trades | {report.trades.trades} |",
              f"| win rate | {report.trades.win_rate:.1%} |", f"| profit factor | {ratio(report.trades.profit_factor)} |",
              f"| expectancy per trade | {money(report.trades.expectancy)} |",
              f"| Sharpe (annualised, {report.interval} bars) | {ratio(c.sharpe)} |",
              f"| Sortino (annualised, {report.interval} bars) | {ratio(c.sortino)} |",
              f"| max drawdown | {c.max_drawdown:.2%} |",
              f"| max drawdown duration | {c.max_drawdown_bars} bars ({duration(c.max_drawdown_ms)}) |",
              f"| exposure (bars with a position) | {c.exposure:.1%} |",
              f"| mean gross leverage | {c.mean_gross_leverage:.2f} |",
              f"| turnover (traded notional / mean equity) | {c.turnover:.1f} |", ""]
    header = ["| | trades | net PnL | win rate | profit factor | expectancy | fees | funding |",
              "|---|---|---|---|---|---|---|---|"]
    lines += ["## Per symbol (closed trades)", "", *header]
    lines += [_row(s, stats) for s, stats in report.per_symbol.items()] + [""]
    lines += ["## Per regime (the regime the entry was decided under)", "", *header]
    lines += [_row(r, stats) for r, stats in report.per_regime.items()] + [""]
    if report.warnings:
        lines += ["## Warnings", "", *(f"- {w}" for w in report.warnings), ""]
    return "\n".join(lines)
