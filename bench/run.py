"""`make bench` (or `python -m bench.run [name ...]`): run every bench/bench_*.py module's `run()`,
write each result to bench/results/<name>.json and print one table."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from bench.common import BenchResult, format_table, write


def discover() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(p.stem for p in here.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    wanted = [a.removeprefix("bench_") for a in argv]
    modules = [m for m in discover() if not wanted or m.removeprefix("bench_") in wanted]
    if wanted and not modules:
        print(f"no benchmark matches {wanted}; available: {[m.removeprefix('bench_') for m in discover()]}")
        return 2
    results: list[BenchResult] = []
    for name in modules:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        for result in module.run():
            write(result)
            results.append(result)
            print(format_table([result]).splitlines()[-1], flush=True)
    print()
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
