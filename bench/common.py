"""What every benchmark shares: the result record, percentiles, and writing bench/results/<name>.json."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class BenchResult:
    """One measured figure and its reference, measured in the same run.

    `ratio` is value / reference_value; `target` states the goal on that ratio (e.g. ">= 20",
    "<= 1.5") or on the value itself when there is no meaningful reference.
    """

    name: str
    value: float
    unit: str
    reference: str
    reference_value: float
    higher_is_better: bool
    target: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        if not self.reference_value:
            return math.nan
        return self.value / self.reference_value

    @property
    def met(self) -> bool | None:
        """Whether the target holds: '<op> <number>' bounds the ratio, '<what> <op> <number> <unit>'
        (e.g. 'p99 < 10 ms') bounds the value itself; any other target is only reported."""
        parts = self.target.split()
        if len(parts) == 2 and parts[0] in OPS:
            return _holds(self.ratio, parts[0], parts[1])
        if len(parts) == 4 and parts[1] in OPS:
            return _holds(self.value, parts[1], parts[2])
        return None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["met"] = self.met
        data["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        data["machine"] = f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}"
        return data


def machine_load() -> dict[str, float]:
    """How busy the machine is: load averages and, where the kernel reports it, CPU pressure (the
    share of the last 10 s in which some runnable task waited for a core)."""
    one, five, _ = os.getloadavg()
    load = {"loadavg_1m": one, "loadavg_5m": five, "cpus": float(os.cpu_count() or 1)}
    try:
        first = Path("/proc/pressure/cpu").read_text().split()
        load["cpu_pressure_some_avg10"] = float(first[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        pass
    return load


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def write(result: BenchResult) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{result.name}.json"
    path.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    return path


def format_table(results: list[BenchResult]) -> str:
    header = f"{'name':28} {'value':>14} {'unit':10} {'reference':44} {'ref value':>14} {'ratio':>8} {'target':>8} met"
    lines = [header, "-" * len(header)]
    for r in results:
        met = {True: "yes", False: "NO", None: "-"}[r.met]
        lines.append(f"{r.name:28} {r.value:>14.6g} {r.unit:10} {r.reference[:44]:44} "
                     f"{r.reference_value:>14.6g} {r.ratio:>8.3g} {r.target:>8} {met}")
    return "\n".join(lines)


OPS = ("<=", ">=", "<", ">")


def _holds(x: float, op: str, bound: str) -> bool:
    b = float(bound)
    return {"<=": x <= b, ">=": x >= b, "<": x < b, ">": x > b}[op]
