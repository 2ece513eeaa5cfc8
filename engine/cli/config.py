"""`slt config`: print the effective settings, secrets masked."""

from __future__ import annotations

import argparse
from dataclasses import fields

from engine.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace, settings: Settings) -> int:
    for f in fields(settings):
        print(f"{f.name:32} {getattr(settings, f.name)!r}")
    return 0
