"""HMAC signing exactly as Binance checks it (spec §3), and the failure order."""

from __future__ import annotations

import pytest

from engine.core.secret import Secret
from engine.sim.auth import api_key_of, sign, split_signature, verify
from engine.sim.errors import BinanceError

NOW = 1_795_519_075_656
SECRET = Secret("slt-demo-secret")


def signed(total: str) -> str:
    return sign(SECRET.reveal(), total)


def code(call) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(BinanceError) as err:
        call()
    return err.value.code


def test_total_params_is_the_raw_query_plus_the_raw_body() -> None:
    body = "timestamp=1795519075000&symbol=BTCUSDT&side=BUY&newClientOrderId=a%2Fb%20c&recvWindow=10000"
    assert split_signature("", body + "&signature=abc") == (body, "abc")
    assert split_signature("x=1", "y=2&signature=abc") == ("x=1y=2", "abc")     # concatenated, no '&'
    assert split_signature("x=1&signature=abc", "y=2") == ("x=1y=2", "abc")
    assert split_signature("x=1&signature=abc&z=3", "") == ("x=1&signature=abc&z=3", None)  # must be last
    params = verify("k", SECRET, "", f"{body}&signature={signed(body).upper()}", NOW)   # case-insensitive
    assert params["newClientOrderId"] == "a/b c" and "signature" not in params


def test_failure_order() -> None:
    secrets = {"slt-demo-key": SECRET}.get
    assert code(lambda: api_key_of({}, secrets)) == -2014
    assert code(lambda: api_key_of({"X-MBX-APIKEY": "bad key\n"}, secrets)) == -2014
    assert code(lambda: api_key_of({"X-MBX-APIKEY": "unknown"}, secrets)) == -2015
    assert api_key_of({"X-MBX-APIKEY": "slt-demo-key"}, secrets) == "slt-demo-key"
    query = f"timestamp={NOW - 20_000}&recvWindow=10000"
    assert code(lambda: verify("k", SECRET, query, "", NOW)) == -1102             # no signature
    assert code(lambda: verify("k", SECRET, query + "&signature=" + "0" * 64, "", NOW)) == -1022
    assert code(lambda: verify("k", SECRET, query + "&signature=" + signed(query), "", NOW)) == -1021
    ahead = f"timestamp={NOW + 1500}"
    assert code(lambda: verify("k", SECRET, ahead + "&signature=" + signed(ahead), "", NOW)) == -1021
    wide = f"timestamp={NOW}&recvWindow=70000"
    assert code(lambda: verify("k", SECRET, wide + "&signature=" + signed(wide), "", NOW)) == -1130
    fresh = f"timestamp={NOW - 4000}"                                              # default window 5000
    assert verify("k", SECRET, fresh + "&signature=" + signed(fresh), "", NOW)["timestamp"] == str(NOW - 4000)
