"""`benchmarks` as plain functions: past runs from `benchmark_results` and their trend as a markdown
table (one row per run, each check's value and grade), which the flow publishes beside the run's
own table. A markdown table rather than a plot image: a Prefect image artifact needs a URL the
browser can reach, and a file under data/ is not one."""

from __future__ import annotations

from collections.abc import Sequence

from engine.health.grading import CHECKS, BenchmarkResult, report, trend
from engine.store import reader
from engine.store.lake import Lake


def history(lake: Lake, since_ms: int) -> list[BenchmarkResult]:
    """Every stored result measured at or after `since_ms`, oldest first."""
    return reader.read(lake, BenchmarkResult, **{"event_time >= ?": since_ms})


def trend_markdown(results: Sequence[BenchmarkResult], latest: Sequence[BenchmarkResult], *, runs: int) -> str:
    """The latest run's report line, then the last `runs` runs as a table, oldest first."""
    summary = report(latest)
    lines = [f"# Graded benchmark trend ({min(runs, len({r.run_id for r in results}))} runs)", "",
             f"Latest run `{latest[0].run_id}`: {summary['passed_tests']} of {summary['total_tests']} checks "
             f"passed (A+, A or B), grades {summary['grade_distribution']}." if latest else "No run yet.", ""]
    rows = trend(results, runs=runs)
    columns = ["run", "measured_at", *CHECKS]
    lines.append("| " + " | ".join(f"{c} ({CHECKS[c].unit})" if c in CHECKS else c for c in columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    limits = ", ".join(f"{c.name} A+ < {c.a_plus:g}, A < {c.a:g}, B < {c.b:g} {c.unit}" for c in CHECKS.values())
    lines += ["", f"Grades (lower is better; C above B): {limits}."]
    return "\n".join(lines)
