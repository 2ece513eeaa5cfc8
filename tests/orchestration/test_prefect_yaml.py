"""prefect.yaml against the flows: every flow has a deployment, parameters fit the signature, the
schedules are the settings' defaults, and each deployment has the house rules (pool, limit, tags)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml
from prefect import Flow

from engine.config import Settings
from engine.orchestration import POOL, schedule_seconds

ROOT = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((ROOT / "prefect.yaml").read_text())


def flow_modules() -> dict[str, Flow]:
    found = {}
    for path in sorted((ROOT / "flows").glob("*.py")):
        module = importlib.import_module(f"flows.{path.stem}")
        found.update({f"flows/{path.name}:{name}": obj for name, obj in vars(module).items() if isinstance(obj, Flow)})
    return found


def test_every_flow_has_one_deployment_and_names_match() -> None:
    flows = flow_modules()
    entrypoints = [d["entrypoint"] for d in SPEC["deployments"]]
    assert sorted(entrypoints) == sorted(flows)
    for deployment in SPEC["deployments"]:
        assert flows[deployment["entrypoint"]].name == deployment["name"]


def test_parameters_validate_against_the_flow_signatures() -> None:
    flows = flow_modules()
    for deployment in SPEC["deployments"]:
        signature = inspect.signature(flows[deployment["entrypoint"]].fn)
        signature.bind(**deployment.get("parameters", {}))  # an unknown name would fail every run
        flows[deployment["entrypoint"]].validate_parameters(deployment.get("parameters", {}))


def test_house_rules_pool_limit_tags_description_no_inline_secret() -> None:
    for deployment in SPEC["deployments"]:
        assert deployment["work_pool"]["name"] == POOL
        assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
        assert deployment["tags"] and deployment["description"]
        env = deployment["work_pool"]["job_variables"]["env"]
        assert not [k for k in env if any(word in k.upper() for word in ("KEY", "SECRET", "WEBHOOK", "TOKEN"))]
    assert SPEC["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ checkout.stdout }}"}}]


def test_schedules_equal_the_settings_defaults() -> None:
    wanted = schedule_seconds(Settings())
    declared = {d["name"]: [s["interval"] for s in d.get("schedules", []) if "interval" in s] for d in SPEC["deployments"]}
    for name, seconds in wanted.items():
        assert declared[name] == [seconds]


def test_interval_schedules_have_a_fixed_anchor() -> None:
    """Without anchor_date every deploy (each `slt up`) re-anchors an interval schedule at that moment,
    so a restart more often than the interval would keep pushing its next run back."""
    for deployment in SPEC["deployments"]:
        for schedule in deployment.get("schedules", []):
            if "interval" in schedule:
                assert schedule.get("anchor_date") and schedule.get("timezone") == "UTC", deployment["name"]
