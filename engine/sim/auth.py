"""Request authentication exactly as Binance USDⓈ-M checks it (spec §3).

totalParams = the raw query string concatenated with the raw body, as received, without the
trailing `&signature=...`; signature = hex HMAC-SHA256(secret, totalParams), compared
case-insensitively. Failure order: header missing/malformed -2014, unknown key -2015, signature
missing -1102, signature wrong -1022, timestamp outside the window -1021. The window uses the auth
clock (real time plus any clock-skew fault), not replay time."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from urllib.parse import parse_qsl

from engine.core.secret import Secret
from engine.sim.errors import BinanceError

KEY_FORMAT = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
MAX_RECV_WINDOW = 60_000


def sign(secret: str, total_params: str) -> str:
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def split_signature(query: str, body: str) -> tuple[str, str | None]:
    """(totalParams without the signature, signature) from the raw query and body."""
    for part, other, first in ((body, query, False), (query, body, True)):
        idx = part.rfind("signature=")
        if idx >= 0 and (idx == 0 or part[idx - 1] == "&") and "&" not in part[idx:]:
            stripped = part[:max(0, idx - 1)]
            return (stripped + other if first else other + stripped), part[idx + len("signature="):]
    return query + body, None


def params_of(query: str, body: str) -> dict[str, str]:
    params = dict(parse_qsl(query, keep_blank_values=True))
    params.update(parse_qsl(body, keep_blank_values=True))
    return params


def api_key_of(headers: dict[str, str] | object, secrets: Callable[[str], Secret | None]) -> str:
    """The account behind the `X-MBX-APIKEY` header, or -2014/-2015."""
    key = headers.get("X-MBX-APIKEY")  # type: ignore[attr-defined]
    if not key or not KEY_FORMAT.match(key):
        raise BinanceError(-2014)
    if secrets(key) is None:
        raise BinanceError(-2015)
    return key


def verify(key: str, secret: Secret, query: str, body: str, now_ms: int) -> dict[str, str]:
    """Check signature and timing; return the request parameters."""
    total, signature = split_signature(query, body)
    params = params_of(query, body)
    if not signature:
        raise BinanceError(-1102, name="signature")
    if not hmac.compare_digest(signature.lower(), sign(secret.reveal(), total)):
        raise BinanceError(-1022)
    try:
        timestamp = int(params["timestamp"])
    except (KeyError, ValueError):
        raise BinanceError(-1102, name="timestamp") from None
    try:
        window = int(params.get("recvWindow", "5000"))
    except ValueError:
        raise BinanceError(-1102, name="recvWindow") from None
    if not 0 < window <= MAX_RECV_WINDOW:
        raise BinanceError(-1130, name="recvWindow")
    if not (timestamp < now_ms + 1000 and now_ms - timestamp <= window):
        raise BinanceError(-1021)
    params.pop("signature", None)
    return params
