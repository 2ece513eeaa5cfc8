"""The process worker `slt up` supervises: `python -m flows.worker --pool local [...]`.

It lowers its own CPU priority first (engine/core/priority.py), so the flow runs it starts, which
inherit it, never compete with the engine on equal terms; then it is `prefect worker start` with the
same arguments. Prefect's handler turns the first SIGTERM or Ctrl-C into a graceful stop (no new
runs; the running ones finish), and `slt up` kills what is left after its grace period."""

from __future__ import annotations

import sys

from engine.core.priority import lower_priority


def main(argv: list[str]) -> None:
    lower_priority()
    from prefect.cli import app  # imported after lowering: its threads start lowered too
    sys.argv = ["prefect", "worker", "start", *argv]
    app()


if __name__ == "__main__":
    main(sys.argv[1:])
