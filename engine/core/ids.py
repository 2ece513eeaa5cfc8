"""Stable identifiers. The same signal always yields the same ids, so a retried or replayed
submission can never become a second order."""

from __future__ import annotations

import hashlib
import re

CLIENT_ORDER_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")  # Binance's rule for newClientOrderId
_PREFIX = "slt"


def signal_id(strategy: str, symbol: str, interval: str, candle_open_time: int) -> str:
    """One signal per strategy, symbol, interval and closed candle."""
    return f"{strategy}:{symbol}:{interval}:{candle_open_time}"


def client_order_id(signal: str, leg: str, account: str = "") -> str:
    """Deterministic Binance-valid client order id for one leg (`E`ntry, `S`top, `T`ake-profit,
    e`X`it ...) of the order(s) a signal produces on one account."""
    if not re.fullmatch(r"[A-Z]", leg):
        raise ValueError(f"order leg must be one capital letter, got {leg!r}")
    digest = hashlib.blake2b(f"{account}|{signal}".encode(), digest_size=14).hexdigest()
    cid = f"{_PREFIX}{leg}-{digest}"
    assert CLIENT_ORDER_ID_RE.match(cid)
    return cid


def is_ours(client_order_id: str) -> bool:
    """Whether an order on the exchange was placed by this system (used by reconciliation)."""
    return client_order_id.startswith(_PREFIX) and len(client_order_id) == 33


def trade_id(signal: str, account: str = "") -> str:
    """A round trip is named after the signal that opened it (and the account it runs on)."""
    return hashlib.blake2b(f"trade|{account}|{signal}".encode(), digest_size=12).hexdigest()
