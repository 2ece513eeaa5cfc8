from __future__ import annotations

import ccxt
import ccxt.pro

from engine.venues.binance_urls import point_binanceusdm_at


def test_every_api_url_points_at_the_given_host() -> None:
    ex = point_binanceusdm_at(ccxt.binanceusdm(), "http://127.0.0.1:9/")
    urls = [u for u in ex.urls["api"].values() if isinstance(u, str)]
    assert urls and all(u.startswith("http://127.0.0.1:9/") for u in urls)
    assert ex.urls["api"]["fapiPrivateV3"] == "http://127.0.0.1:9/fapi/v3"
    assert ex.options["fetchCurrencies"] is False and ex.options["leverageBrackets"] == {}
    assert ex.exceptions["exact"]["-2019"] is ccxt.InsufficientFunds


def test_pro_gets_the_websocket_root() -> None:
    ex = point_binanceusdm_at(ccxt.pro.binanceusdm(), "http://127.0.0.1:9", "ws://127.0.0.1:9/")
    assert ex.urls["api"]["ws"]["linear"] == "ws://127.0.0.1:9/ws"
