"""`slt model`: the signal model's versions in MLflow (`SLT_MLFLOW_TRACKING_URI`).

    slt model                               # champion and challenger: version, decision, reason, figures;
                                            # the version the engine serves, since when, live figures
    slt model promote VERSION               # make VERSION champion by hand (recorded on the version)
    slt model rollback                      # champion back to the version it replaced (recorded)
    slt model evaluate --model champion|challenger|VERSION --candles FILE... [--funding ...] [--mark ...] [--json]

`evaluate` scores candle files (data/market layout) the model never saw: AUC and Brier with intervals,
the base rate's Brier, gated against ungated trades and net return per trade. Exit code 1 when MLflow
does not answer or the version does not exist.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polars as pl

from engine.cli.tables import iso_utc
from engine.cli.train import history
from engine.config import Settings
from engine.core.errors import DataError
from engine.learning.dataset import Dataset, build_dataset
from engine.learning.labels import ExitSpec
from engine.learning.registry import RegistrationFailed, RegistryUnavailable, load, overview, promote, rollback
from engine.learning.report import render_evaluation
from engine.learning.validation import score


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", default="show", choices=("show", "promote", "rollback", "evaluate"))
    parser.add_argument("version", nargs="?", help="for promote: the version number")
    add_evaluate_arguments(parser)


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `evaluate` (also `slt learn evaluate`)."""
    parser.add_argument("--model", default="champion", help="for evaluate: champion, challenger or a version")
    parser.add_argument("--candles", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--funding", nargs="+", type=Path, default=[], metavar="FILE")
    parser.add_argument("--mark", nargs="+", type=Path, default=[], metavar="FILE")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def evaluate(args: argparse.Namespace, settings: Settings) -> int:
    """`slt model evaluate` / `slt learn evaluate`; exit 1 when MLflow does not answer."""
    try:
        return _evaluate(args, settings)
    except (RegistryUnavailable, RegistrationFailed) as exc:
        print(f"slt model: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace, settings: Settings) -> int:
    uri = settings.mlflow_tracking_uri
    try:
        if args.action == "show":
            found = overview(uri)
            code = _show(found, args.json)
            if not args.json:
                _engine(settings, found)
            return code
        if args.action == "promote":
            if not args.version:
                print("slt model promote: which version? (slt model promote VERSION)", file=sys.stderr)
                return 2
            previous, new = promote(uri, args.version)
            print(f"champion is now version {new} (was {previous or 'none'}); recorded on the version")
            return 0
        if args.action == "rollback":
            old, new = rollback(uri)
            print(f"champion rolled back from version {old} to version {new}; recorded on version {new}")
            return 0
        return _evaluate(args, settings)
    except (RegistryUnavailable, RegistrationFailed) as exc:
        print(f"slt model: {exc}", file=sys.stderr)
        return 1


def _show(found: dict[str, dict[str, str] | None], as_json: bool) -> int:
    if as_json:
        print(json.dumps(found, indent=2))
        return 0
    for alias, info in found.items():
        if info is None:
            print(f"{alias}: none" + ("; the engine keeps the bootstrap policy" if alias == "champion" else ""))
            continue
        print(f"{alias}: version {info['version']}, decision {info.get('decision') or '-'}")
        for key, value in info.items():
            if key not in ("version", "decision"):
                print(f"  {key:20} {value}")
    return 0


def _engine(settings: Settings, found: dict[str, dict[str, str] | None]) -> None:
    """The version the running engine serves, since when, and its live figures next to validation."""
    from engine.core.errors import StoreUnavailable
    from engine.learning.live import live_figures, serving
    from engine.store import connect

    try:
        lake = connect(settings, read_only=True)
    except StoreUnavailable:
        print("engine: no store yet (it has not run)")
        return
    with lake:
        state = serving(lake)
        if state is None:
            print("engine: no model event recorded (the engine has not run since online learning landed)")
            return
        if state.version is None:
            print(f"engine: the bootstrap policy since {iso_utc(state.since)} ({state.status}: {state.message})")
            return
        champion = found.get("champion") or {}
        tags = _tags(settings, state.version)
        live = live_figures(lake, state.version, tags.get("base_rate"), tags.get("threshold"))
    print(f"engine: serving version {state.version} since {iso_utc(state.since)} (last: {state.status})")
    if champion.get("version") == state.version:
        print(f"  validation           Brier {champion.get('brier', '-')}, base Brier {champion.get('base_brier', '-')}, "
              f"{champion.get('gated / ungated net', '')}")
    if live.get("resolved"):
        parts = [f"{live['resolved']} resolved", f"win rate {live['win_rate']:.1%}",
                 f"mean p {live['mean_probability']:.3f}", f"Brier {live['brier']:.4f}"]
        if "base_brier" in live:
            parts.append(f"base Brier {live['base_brier']:.4f}")
        if "gated_net_bp" in live:
            parts.append(f"gated {live['gated_net_bp']:+.1f} bp per trade on {live['gated_trades']}")
        print("  live                 " + ", ".join(parts))
    else:
        print("  live                 no resolved prediction yet")


def _tags(settings: Settings, version: str) -> dict[str, float]:
    """The version's base rate and threshold tags (REST, no model load)."""
    from engine.learning.names import MODEL_NAME
    from engine.learning.serving import MlflowModels, NotFound

    try:
        got = MlflowModels(settings.mlflow_tracking_uri).get("model-versions/get", name=MODEL_NAME, version=version)
    except (NotFound, RegistryUnavailable):
        return {}
    tags = {t["key"]: t["value"] for t in got["model_version"].get("tags", [])}
    return {k: float(tags[k]) for k in ("base_rate", "threshold") if k in tags}


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    if not args.candles:
        print("slt model evaluate: give --candles FILE... the model never saw", file=sys.stderr)
        return 2
    loaded = load(settings.mlflow_tracking_uri, args.model)
    version, data_end = loaded.version, loaded.data_end
    try:
        full = build_dataset(history(args, settings), ExitSpec.from_settings(settings))
    except (DataError, ValueError) as exc:
        print(f"slt model evaluate: {exc}", file=sys.stderr)
        return 2
    missing = [n for n in loaded.features if n not in full.features]
    if missing:
        print(f"slt model evaluate: version {version} needs the features {', '.join(missing)}; the BTC context "
              "comes from BTCUSDT candles: add them to --candles", file=sys.stderr)
        return 2
    dataset = Dataset(full.frame.filter(pl.col("open_time") > data_end), full.features, full.version)
    seen = full.rows - dataset.rows
    if dataset.rows == 0:
        print(f"slt model evaluate: all {full.rows} signals in these candles are inside version {version}'s "
              f"training data (up to {iso_utc(data_end)}); give candles after it", file=sys.stderr)
        return 2
    if seen:
        print(f"  left out {seen} signals the model trained on (up to {iso_utc(data_end)})", file=sys.stderr)
    frame = dataset.frame
    probability = loaded.model.predict_proba(dataset.frame.select(loaded.features).to_numpy())[:, 1]
    scores, figures, gated, ungated = score(dataset, probability, loaded.threshold, float(frame["label"].mean()))
    if args.json:
        print(json.dumps({"model": args.model, "version": version, "rows": dataset.rows,
                          "figures": {k: v.as_dict() for k, v in figures.items()},
                          "gated": gated.as_dict(), "ungated": ungated.as_dict()}, default=float))
    else:
        print(render_evaluation(args.model, version, dataset.rows, figures, gated, ungated,
                                float(scores.admitted.mean())))
    return 0
