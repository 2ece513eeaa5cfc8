"""`slt learn`: the learning lifecycle's two commands under one name.

    slt learn train [--candles FILE...] [--funding FILE...] [--mark FILE...] [--no-store] [--no-register]
    slt learn evaluate --model champion|challenger|VERSION --candles FILE... [--funding ...] [--mark ...] [--json]

The same as `slt train` and `slt model evaluate` (engine/cli/train.py, engine/cli/model.py), whose
docstrings say what each prints and its exit codes; `slt model` shows, promotes and rolls back.
"""

from __future__ import annotations

import argparse

from engine.cli import model, train
from engine.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="learn_action", required=True, metavar="ACTION")
    train.add_arguments(sub.add_parser("train", help="train walk-forward, print the figures and the gate's decision, "
                                                     "register in MLflow (champion only with an edge)"))
    model.add_evaluate_arguments(sub.add_parser("evaluate", help="score candle files the model never saw: AUC and "
                                                                 "Brier with intervals, gated against ungated trades"))


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.learn_action == "train":
        return train.run(args, settings)
    return model.evaluate(args, settings)
