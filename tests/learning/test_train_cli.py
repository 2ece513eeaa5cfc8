"""`slt train` on files cut from the bundled history: figures with intervals and a plain decision."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from engine.cli import train as train_cli
from engine.config import Settings
from engine.learning.dataset import MarketData


def write(history: list[MarketData], folder: Path, bars: int | None = None) -> list[str]:
    candles, funding, mark = [], [], []
    for data in history:
        path = folder / f"{data.symbol}-perp-klines-1h.parquet"
        (data.candles if bars is None else data.candles[:bars]).write_parquet(path)
        data.funding.write_parquet(folder / f"{data.symbol}-perp-funding-8h.parquet")
        data.mark.write_parquet(folder / f"{data.symbol}-perp-mark-1h.parquet")
        candles.append(str(path))
        funding.append(str(folder / f"{data.symbol}-perp-funding-8h.parquet"))
        mark.append(str(folder / f"{data.symbol}-perp-mark-1h.parquet"))
    return ["--candles", *candles, "--funding", *funding, "--mark", *mark, "--no-register"]


@pytest.fixture(autouse=True)
def keep_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    """`slt train` lowers its own process's priority for good; the test process keeps its own."""
    monkeypatch.setattr(train_cli, "lower_priority", lambda: 0)


def run(argv: list[str], tmp_path: Path) -> int:
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    return train_cli.run(parser.parse_args(argv), Settings(data_dir=tmp_path))


def test_prints_figures_with_intervals_and_the_decision(history: list[MarketData], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(write(history, tmp_path), tmp_path) == 0
    out = capsys.readouterr().out
    assert "pooled AUC" in out and "base rate" in out and "per trade after costs" in out
    assert "[" in out.split("pooled AUC")[1].splitlines()[0]
    assert "decision: REFUSE: no edge" in out and "keeps the bootstrap policy" in out


def test_too_little_data_registers_nothing_and_says_how_much_more(history: list[MarketData], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert run(write(history, tmp_path, bars=900), tmp_path) == 2
    err = capsys.readouterr().err
    assert "too little data" in err and "more (a longer history) are needed" in err and "nothing registered" in err


def test_slt_learn_train_and_evaluate_are_the_same_commands(history: list[MarketData], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import build_parser, learn

    args = build_parser("learn").parse_args(["learn", "train", *write(history, tmp_path, bars=900)])
    assert learn.run(args, Settings(data_dir=tmp_path)) == 2 and "too little data" in capsys.readouterr().err
    args = build_parser("learn").parse_args(["learn", "evaluate", "--model", "champion"])
    assert learn.run(args, Settings(data_dir=tmp_path)) == 2
    assert "give --candles FILE... the model never saw" in capsys.readouterr().err


@pytest.mark.integration
def test_trains_and_registers_in_a_real_mlflow(history: list[MarketData], tmp_path: Path, mlflow_uri: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a for a in write(history, tmp_path) if a != "--no-register"]
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    settings = Settings(data_dir=tmp_path, mlflow_port=int(mlflow_uri.rsplit(":", 1)[1]))
    assert train_cli.run(parser.parse_args(argv), settings) == 0
    out = capsys.readouterr().out
    assert "decision: REFUSE: no edge" in out and "signal-model version 1, aliases challenger" in out
    assert "The engine keeps the bootstrap policy." in out
