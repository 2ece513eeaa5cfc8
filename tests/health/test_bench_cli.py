"""`slt bench` against the real simulator on 127.0.0.1: the graded table of all six checks, the rows
stored in `benchmark_results`, and no order placed (the simulator's order and trade counts and the
wallet are unchanged); an exchange that does not answer gives unmeasured checks that say why."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from dataclasses import replace

import pytest

from engine.cli import bench as bench_cli
from engine.config import Settings
from engine.health.grading import CHECKS, BenchmarkResult
from engine.store import reader
from engine.store.lake import connect
from tests.conftest import free_port
from tests.sim.harness import SimHandle


def stored(settings: Settings) -> list[BenchmarkResult]:
    with connect(settings, read_only=True) as lake:
        return reader.read(lake, BenchmarkResult)


@pytest.mark.integration
async def test_slt_bench_on_the_simulator_grades_stores_and_places_no_order(
        settings: Settings, sim: SimHandle, capsys: pytest.CaptureFixture[str]) -> None:
    await sim.control.step(bars=1100)   # closed history for the indicators (the replay starts paused)
    mine = replace(settings, exchange_rest_url=sim.rest_url, exchange_ws_url=sim.ws_url)
    before = await sim.control.account(sim.key)

    code = await asyncio.to_thread(bench_cli.run, argparse.Namespace(json=False, clients=3), mine)
    out = capsys.readouterr().out
    after = await sim.control.account(sim.key)

    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("Graded benchmark bench-") and f"against sim ({sim.rest_url})" in lines[0]
    assert lines[1].split() == ["check", "value", "unit", "grade", "A+", "below", "A", "below", "B", "below", "what"]
    for name in CHECKS:
        [row] = [line for line in lines if line.startswith(name + " ")]
        assert row.split()[3] in ("A+", "A", "B", "C"), row
    assert re.search(r"\n[0-6] of 6 checks passed \(A\+, A or B\)", out)
    assert sim.secret not in out and all(sim.secret not in r.details for r in stored(mine))
    results = stored(mine)
    assert [r.check_name for r in results] == list(CHECKS) and len({r.run_id for r in results}) == 1
    assert f"stored 6 rows in benchmark_results (run_id = '{results[0].run_id}')" in out
    assert all(r.value is not None and r.value >= 0 and r.grade != "-" for r in results)
    concurrency = json.loads(results[-1].details)
    assert concurrency["clients"] == 3 and concurrency["endpoint"] == "POST /fapi/v1/order/test"
    # the order checks sent 5 + 3 test orders: none placed, nothing traded, no balance moved
    assert after["orders"] == before["orders"] == [] and after["trades"] == before["trades"] == []
    assert (after["wallet"], after["available"]) == (before["wallet"], before["available"])

    code = await asyncio.to_thread(bench_cli.run, argparse.Namespace(json=True, clients=1), mine)
    body = json.loads(capsys.readouterr().out)
    assert code == 0 and body["report"]["total_tests"] == 6 and len(body["results"]) == 6
    assert len({r.run_id for r in stored(mine)}) == 2   # a second run, stored beside the first
    assert (await sim.control.account(sim.key))["orders"] == []


def test_an_exchange_that_does_not_answer_is_named_in_every_check(
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()   # nothing listens there
    mine = replace(settings, exchange_rest_url=f"http://127.0.0.1:{port}", exchange_ws_url=f"ws://127.0.0.1:{port}")
    code = bench_cli.run(argparse.Namespace(json=False, clients=2), mine)
    out = capsys.readouterr().out
    assert code == 1
    assert out.count(f"not measured: the exchange did not answer at http://127.0.0.1:{port}") == 6
    assert "0 of 6 checks passed" in out
    assert [r.grade for r in stored(mine)] == ["-"] * 6


def test_bad_clients_are_refused(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_cli.run(argparse.Namespace(json=False, clients=0), settings) == 2
    assert "--clients must be at least 1, got 0" in capsys.readouterr().err


def test_a_live_exchange_without_keys_is_refused_before_any_request(
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    mine = replace(settings, exchange="testnet")
    assert bench_cli.run(argparse.Namespace(json=False, clients=1), mine) == 2
    assert "SLT_API_KEY and SLT_API_SECRET are required for SLT_EXCHANGE=testnet" in capsys.readouterr().err
