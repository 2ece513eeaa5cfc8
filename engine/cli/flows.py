"""`slt flows`: the Prefect deployments, from the Prefect API (`SLT_PREFECT_API_URL`).

    slt flows                                  # each deployment: schedule, last run (state, time), next run
    slt flows run candle-backfill              # start one now, follow it to its end (exit 0 if Completed)
    slt flows run candle-backfill -p lookback_hours=48

A run started here goes through the server and the worker like a scheduled one (so the worker of
`slt up` must be running: not with `--no-flows`); its artifacts are listed at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from engine.cli.tables import format_table
from engine.config import Settings
from engine.orchestration import POOL, OrchestrationError, PrefectApi, describe_schedule, short_time

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
STARTED_BY_CLI = "slt-flows-run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=["run"], help="run: start a deployment now and follow it")
    parser.add_argument("name", nargs="?", help="the deployment to run (as `slt flows` lists them)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a flow parameter (VALUE as JSON when it parses, else text); repeatable")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to follow the run (default 1800)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    api = PrefectApi(settings.prefect_api_url)
    try:
        if args.action is None:
            print(listing(api))
            return 0
        if not args.name:
            print("slt flows run: name the deployment (slt flows lists them)", file=sys.stderr)
            return 2
        return follow(api, args.name, parse_params(args.param), args.timeout)
    except (OrchestrationError, ValueError) as exc:
        print(f"slt flows: {exc} (is the system up? `make run` starts the Prefect server)"
              if isinstance(exc, OrchestrationError) and "unreachable" in str(exc) else f"slt flows: {exc}",
              file=sys.stderr)
        return 1


def listing(api: PrefectApi) -> str:
    rows = []
    for deployment in api.deployments():
        last, upcoming = api.last_run(deployment["id"]), api.next_run(deployment["id"])
        rows.append((deployment["name"], describe_schedule(deployment),
                     last["state_name"] if last else "-", short_time(last and (last["end_time"] or last["start_time"])),
                     short_time(upcoming and upcoming["expected_start_time"])))
    return format_table(["deployment", "schedule", "last run", "at", "next run"], rows)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter {pair!r} is not KEY=VALUE")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def unknown_params(deployment: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """The names in `params` the deployment's flow does not take (its parameter schema's properties)."""
    schema = deployment.get("parameter_openapi_schema") or {}
    if "properties" not in schema:
        return []  # no schema published: the server is the judge
    return sorted(set(params) - set(schema["properties"]))


def follow(api: PrefectApi, name: str, params: dict[str, Any], timeout: float, poll: float = 0.5) -> int:
    """Start a run of deployment `name`, print each state it goes through, then its artifacts."""
    found = {d["name"]: d for d in api.deployments()}
    if name not in found:
        raise ValueError(f"no deployment named {name!r}; there are: {', '.join(sorted(found)) or 'none'}")
    if (unknown := unknown_params(found[name], params)):
        accepted = sorted((found[name].get("parameter_openapi_schema") or {}).get("properties") or {})
        raise ValueError(f"{name} has no parameter {', '.join(unknown)} (it takes: {', '.join(accepted) or 'none'}); "
                         "the server would accept the run and every run would fail")
    if (api.work_pool(POOL) or {}).get("status") != "READY":
        print(f"slt flows: no worker is online on pool {POOL!r}: the run waits until one is "
              "(`slt up` starts one; not with --no-flows)", file=sys.stderr)
    created = api.call("POST", f"/deployments/{found[name]['id']}/create_flow_run",
                       {"parameters": params, "tags": [STARTED_BY_CLI]})
    started, shown, run = time.monotonic(), None, created
    print(f"{name}: flow run {created['name']} ({created['id']})", flush=True)
    while time.monotonic() - started < timeout:
        run = api.call("GET", f"/flow_runs/{created['id']}")
        if run["state_name"] != shown:
            shown = run["state_name"]
            print(f"  {time.monotonic() - started:6.1f} s  {shown}", flush=True)
        if run["state_type"] in FINAL:
            break
        time.sleep(poll)
    else:
        print(f"{name}: still {shown} after {timeout:g} s (it goes on; see the Prefect UI)", file=sys.stderr)
        return 1
    message = (run.get("state") or {}).get("message") or ""
    print(f"{name}: {run['state_name']}" + (f": {message}" if message and run["state_type"] != "COMPLETED" else ""))
    for artifact in api.call("POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [created["id"]]}}}) or []:
        print(f"  artifact {artifact['key'] or '-'} ({artifact['type']})")
    return 0 if run["state_type"] == "COMPLETED" else 1
