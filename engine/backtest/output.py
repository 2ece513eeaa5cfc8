"""`-o DIR`: the report as markdown and JSON, and the equity/drawdown plot."""

from __future__ import annotations

import json
from pathlib import Path

from engine.backtest.markdown import markdown
from engine.backtest.plot import equity_plot
from engine.backtest.session import Outcome


def write_outputs(outcome: Outcome, folder: Path) -> dict[str, Path]:
    """report.md (linking equity.png), equity.png and report.json in `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    symbols = ", ".join(outcome.settings.symbols)
    plot = equity_plot(outcome.run.equity, outcome.run.initial_equity, folder / "equity.png",
                       title=f"Backtest {symbols} {outcome.settings.interval} ({outcome.policy})")
    md = folder / "report.md"
    md.write_text(markdown(outcome.report, plot=plot.name, title=f"Backtest: {symbols} on {outcome.settings.interval} "
                                                                  f"candles, policy {outcome.policy}"))
    body = outcome.report.to_json()
    body.update(policy=outcome.policy, data_hash=outcome.data_hash)
    js = folder / "report.json"
    js.write_text(json.dumps(body, indent=2))
    return {"report": md, "plot": plot, "json": js}
