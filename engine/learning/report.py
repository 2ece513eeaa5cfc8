"""The training report for people: every figure with its 95 % interval and its base rate, the
trading result gated against ungated after costs, and the gate's decision in plain words."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.learning.gate import Decision
from engine.learning.metrics import Interval, Trading
from engine.learning.training import Training


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def render(training: Training, decision: Decision) -> str:
    f, w = training.walk.pooled, training.walk
    params = training.params()
    first, last = w.folds[0].fold, w.folds[-1].fold
    lines = [
        f"signal model {training.dataset.version}: {params['symbols']} {training.interval}, "
        f"{_day(int(params['data_start']))} -> {_day(training.data_end)}, {training.dataset.rows} signals "
        f"({len(training.dataset.features)} features), labels: {training.exits.describe()}",
        f"walk-forward: {len(w.folds)} purged folds, out of sample {_day(first.test_start)} -> "
        f"{_day(last.test_end)} ({len(w.scores.y)} signals), 95 % block-bootstrap intervals",
        "",
        f"  {'fold':>4} {'model':24} {'train':>6} {'test':>5} {'AUC':>24} {'Brier':>24} {'base Brier':>8}"
        f" {'gated bp':>9} {'ungated bp':>10}",
    ]
    for r in w.folds:
        x = r.figures
        lines.append(f"  {r.fold.number:>4} {r.kind:24} {len(r.fold.train):>6} {len(r.fold.test):>5} "
                     f"{x['auc']!s:>24} {x['brier']!s:>24} {x['base_brier'].value:>10.4f} "
                     f"{r.gated.mean_net * 1e4:>+9.1f} {r.ungated.mean_net * 1e4:>+10.1f}")
    lines += [
        "",
        f"  pooled AUC          {f['auc']}   (0.5 = a coin flip)",
        f"  Brier               {f['brier']}   base rate {w.scores.y.mean():.3f}: Brier {f['base_brier']}",
        f"  Brier - base Brier  {f['brier_minus_base']}   (below 0 = better than the base rate)",
        f"  log loss            {f['log_loss']}",
        f"  ungated signals     {w.ungated.trades} trades, win rate {w.ungated.win_rate:.1%}, "
        f"{f['ungated_net'].bp()} per trade after costs, profit factor {w.ungated.profit_factor:.3f}, "
        f"max drawdown {w.ungated.max_drawdown:.2f} (sum of per-trade returns)",
        f"  gated signals       {w.gated.trades} trades ({w.scores.admitted.mean():.1%} admitted), win rate "
        f"{w.gated.win_rate:.1%}, {f['gated_net'].bp()} per trade, profit factor {w.gated.profit_factor:.3f}, "
        f"max drawdown {w.gated.max_drawdown:.2f}",
        f"  gated - ungated     {f['gated_minus_ungated'].bp()} per trade",
        f"  final model         {training.final.kind}, admits above win probability {training.final.threshold:.3f}",
        "",
        f"decision: {decision.word.upper()}: {decision.reason}",
    ]
    return "\n".join(lines)


def render_evaluation(which: str, version: str, rows: int, figures: dict[str, Interval], gated: Trading,
                      ungated: Trading, admitted: float) -> str:
    """A model scored on candles it never saw; claims an edge only where the intervals support it."""
    f = figures
    edge_brier = f["brier_minus_base"].high < 0
    edge_money = f["gated_minus_ungated"].low > 0
    verdict = ("the intervals support an edge over the base rate and over the ungated signals"
               if edge_brier and edge_money else
               "no edge supported by the intervals: " + ", ".join(
                   part for part, bad in (("Brier not below the base rate's", not edge_brier),
                                          ("gated not above ungated", not edge_money)) if bad))
    return "\n".join([
        f"signal-model {which} (version {version}) on {rows} signals it never saw (95 % block-bootstrap intervals)",
        f"  AUC                 {f['auc']}   (0.5 = a coin flip)",
        f"  Brier               {f['brier']}   base rate Brier {f['base_brier']}",
        f"  Brier - base Brier  {f['brier_minus_base']}",
        f"  ungated signals     {ungated.trades} trades, win rate {ungated.win_rate:.1%}, {f['ungated_net'].bp()} per trade",
        f"  gated signals       {gated.trades} trades ({admitted:.1%} admitted), win rate {gated.win_rate:.1%}, "
        f"{f['gated_net'].bp()} per trade",
        f"  gated - ungated     {f['gated_minus_ungated'].bp()} per trade",
        f"verdict: {verdict}",
    ])


def fold_rows(training: Training) -> list[dict[str, object]]:
    """The walk-forward table for an artifact: one row per fold, figures rounded, intervals shown."""
    rows = []
    for r in training.walk.folds:
        x = r.figures
        rows.append({"fold": r.fold.number, "test from": _day(r.fold.test_start), "test to": _day(r.fold.test_end),
                     "train rows": len(r.fold.train), "test rows": len(r.fold.test), "model": r.kind,
                     "AUC [95 %]": str(x["auc"]), "Brier [95 %]": str(x["brier"]),
                     "base Brier": round(x["base_brier"].value, 4),
                     "gated bp/trade": round(r.gated.mean_net * 1e4, 1), "gated trades": r.gated.trades,
                     "ungated bp/trade": round(r.ungated.mean_net * 1e4, 1)})
    f = training.walk.pooled
    rows.append({"fold": "pooled", "test rows": len(training.walk.scores.y), "AUC [95 %]": str(f["auc"]),
                 "Brier [95 %]": str(f["brier"]), "base Brier": round(f["base_brier"].value, 4),
                 "gated bp/trade": round(f["gated_net"].value * 1e4, 1), "gated trades": training.walk.gated.trades,
                 "ungated bp/trade": round(f["ungated_net"].value * 1e4, 1)})
    return rows


def decision_markdown(training: Training, decision: Decision, drift: dict[str, object] | None = None) -> str:
    """The gate's decision and reason, with the pooled figures it rests on."""
    f, w = training.walk.pooled, training.walk
    started = (f"Started by `slt.model.drift` (champion version {drift.get('version')}): {drift.get('reason', '')}\n\n"
               if drift else "")
    return "\n".join([
        f"## Signal model: **{decision.word}**", "", started + decision.reason, "",
        "| figure (out of sample, pooled) | value [95 % interval] |", "|---|---|",
        f"| AUC | {f['auc']} |",
        f"| Brier / base rate ({w.scores.y.mean():.3f}) Brier | {f['brier']} / {f['base_brier']} |",
        f"| Brier − base-rate Brier | {f['brier_minus_base']} |",
        f"| ungated net per trade | {f['ungated_net'].bp()} ({w.ungated.trades} trades) |",
        f"| gated net per trade | {f['gated_net'].bp()} ({w.gated.trades} trades) |",
        f"| gated − ungated | {f['gated_minus_ungated'].bp()} |", "",
        f"{training.dataset.rows} signals ({training.dataset.own_rows} the engine's own closed trades), "
        f"{len(w.folds)} purged walk-forward folds; labels: {training.exits.describe()}.",
    ])
