"""`slt health`: the running engine's detailed health report, read from its `GET /health`
(`SLT_HEALTH_HOST:SLT_HEALTH_PORT`); nothing is probed here, the engine's monitor did that.

    slt health           # overall level, then one block per component with its figures
    slt health --json    # the /health JSON as the engine served it

Exit code 0 when HEALTHY or DEGRADED, 1 when UNHEALTHY or CRITICAL, still starting, or the engine
does not answer (the reason is printed).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from engine.config import Settings
from engine.health.report import from_dict, render

TIMEOUT_S = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the engine's /health JSON")


def run(args: argparse.Namespace, settings: Settings) -> int:
    url = f"http://{settings.health_host}:{settings.health_port}/health"
    try:
        status, body = fetch(url)
        text = None if args.json or body.get("status") == "STARTING" else render(from_dict(body))
    except OSError as exc:
        print(f"slt health: the engine does not answer on {url}: {getattr(exc, 'reason', None) or exc} "
              "(is it running? `make run` starts it; SLT_HEALTH_PORT names its port)", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"slt health: {url} did not answer with a health report: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        print(text or "🏥 the engine is starting: no health check yet")
    return 0 if status == 200 else 1


def fetch(url: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body); a 503 is an answer too (UNHEALTHY, CRITICAL or STARTING)."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as answer:
        with answer:
            return answer.code, _json(answer.read())


def _json(data: bytes) -> dict[str, Any]:
    body = json.loads(data)
    if not isinstance(body, dict):
        raise ValueError("the answer is not a JSON object")
    return body
