"""`slt flows` helpers as plain functions: KEY=VALUE parameters and names the flow does not take."""

from __future__ import annotations

import pytest

from engine.cli.flows import parse_params, unknown_params

DEPLOYMENT = {"name": "candle-backfill", "parameter_openapi_schema": {
    "properties": {"symbols": {}, "intervals": {}, "lookback_hours": {}}}}


def test_values_parse_as_json_when_they_can() -> None:
    assert parse_params(["lookback_hours=48", "symbols=[\"BTCUSDT\"]", "note=hello"]) == {
        "lookback_hours": 48, "symbols": ["BTCUSDT"], "note": "hello"}


@pytest.mark.parametrize("pair", ["lookback_hours", "=3"])
def test_a_pair_without_a_key_and_value_is_refused(pair: str) -> None:
    with pytest.raises(ValueError, match="is not KEY=VALUE"):
        parse_params([pair])


def test_names_the_flow_does_not_take_are_found() -> None:
    assert unknown_params(DEPLOYMENT, {"lookback_hours": 2, "lookback": 2, "days": 1}) == ["days", "lookback"]
    assert unknown_params(DEPLOYMENT, {"lookback_hours": 2}) == []
    assert unknown_params({"name": "x"}, {"anything": 1}) == []  # no schema: the server decides
