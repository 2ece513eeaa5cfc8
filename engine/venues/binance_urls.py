"""Point an unmodified ccxt `binanceusdm` (sync, async or pro) at another host: the local simulator
or any Binance-compatible endpoint. Exactly the recipe of the protocol spec §1.

Every `urls['api']` entry is rewritten (fapi*, sapi, dapi, eapi, papi, ...), so a mistaken call reaches
that host (and gets a 404) instead of the internet. The options stop the calls that would otherwise
leak (currencies, leverage brackets), and the USD-M error table is merged so -2019, -4116, -2022, -4164
and -2018 raise the same ccxt classes as on fapi.binance.com."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


def point_binanceusdm_at(exchange: T, rest_url: str, ws_url: str | None = None) -> T:
    ex: Any = exchange
    base = rest_url.rstrip("/")
    for key, url in list(ex.urls["api"].items()):
        if isinstance(url, str):
            ex.urls["api"][key] = base + urlsplit(url).path
    if ws_url and isinstance(ex.urls["api"].get("ws"), dict):       # ccxt.pro only
        ex.urls["api"]["ws"]["linear"] = ws_url.rstrip("/") + "/ws"
    ex.options["fetchCurrencies"] = False
    ex.options["fetchMarkets"] = {"types": ["linear"]}
    ex.options["leverageBrackets"] = {}
    ex.options["fetchOpenOrders"] = {"warnWithoutSymbol": False}
    ex.exceptions["exact"].update(ex.exceptions["linear"]["exact"])
    return exchange
