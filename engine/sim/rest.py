"""What the simulator's HTTP routes share: JSON answers (decimals as strings), Binance error
answers, integer parameters and the API-key / signature check of a request against the venue."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from aiohttp import web

from engine.sim.auth import api_key_of, params_of, verify
from engine.sim.errors import BinanceError
from engine.sim.venue import Venue

_json = msgspec.json.Encoder(decimal_format="string")


def dumps(data: object) -> str:
    return _json.encode(data).decode()


def ok(data: object) -> web.Response:
    return web.json_response(data, dumps=dumps)


def error(exc: BinanceError) -> web.Response:
    response = web.json_response(exc.body(), status=exc.status, dumps=dumps)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def int_param(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BinanceError(-1102, name=name) from None


async def authenticate(venue: Venue, request: web.Request, *, signed: bool = True) -> tuple[str, dict[str, str]]:
    """The account behind the request's API key and the request's parameters; the signature and
    recvWindow are checked unless `signed` is False (USER_STREAM endpoints take the key only)."""
    key = api_key_of(request.headers, venue.secret_of)
    body = await request.text() if request.can_read_body else ""
    query = request.rel_url.raw_query_string
    if not signed:
        return key, params_of(query, body)
    secret = venue.secret_of(key)
    assert secret is not None
    return key, verify(key, secret, query, body, venue.auth_now(request.method, request.path))
