"""ccxt exceptions → our error hierarchy (`engine.core.errors`), in one place.

The rule that matters for orders: only a definitive answer from the exchange ("rejected: margin is
insufficient") is a rejection. A timeout, a 5xx, a dropped connection or an unreadable answer to an
order submission means the order may exist: that is `OrderStateUnknown`, and the caller must ask
the exchange by client order id before doing anything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import ccxt

from engine.core import errors as e

_CODE_RE = re.compile(r'"code"\s*:\s*(-?\d+)')
_MSG_RE = re.compile(r'"msg"\s*:\s*"([^"]*)"')


def exchange_code(exc: BaseException) -> int | None:
    """The Binance error code inside a ccxt exception message, if any."""
    match = _CODE_RE.search(str(exc))
    return int(match.group(1)) if match else None


def describe(exc: BaseException) -> str:
    """A short, secret-free description: the exchange's code and message, or the exception type."""
    code, msg = exchange_code(exc), _MSG_RE.search(str(exc))
    if code is not None:
        return f"{code} {msg.group(1) if msg else ''}".strip()
    text = str(exc).split("\n", 1)[0]
    return f"{type(exc).__name__}: {text[:200]}"


def translate(exc: BaseException, *, operation: str, submits_order: bool = False,
              headers: Mapping[str, str] | None = None) -> e.ExchangeError:
    """Map one ccxt (or transport) exception raised by `operation` to our hierarchy."""
    what = f"{operation}: {describe(exc)}"
    code = exchange_code(exc)
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return e.RateLimited(what, code=code, retry_after=_retry_after(headers))
    if isinstance(exc, ccxt.InvalidNonce) or code == -1021:
        return e.TimestampOutOfWindow(what, code=code)
    if submits_order and _maybe_accepted(exc):
        return e.OrderStateUnknown(what, code=code)
    if isinstance(exc, ccxt.NetworkError | TimeoutError | ConnectionError | OSError):
        return e.TemporaryExchangeError(what, code=code)
    if isinstance(exc, ccxt.AuthenticationError):
        return e.AuthenticationFailed(what, code=code)
    if isinstance(exc, ccxt.BadSymbol) or code == -1121:
        return e.UnknownSymbol(what, code=code)
    if isinstance(exc, ccxt.InsufficientFunds) or code == -2019:
        return e.InsufficientMargin(what, code=code)
    if code == -4116:
        return e.DuplicateClientOrderId(what, code=code)
    if isinstance(exc, ccxt.OrderNotFound) or code in (-2011, -2013):
        return e.OrderNotFound(what, code=code)
    if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest):
        return e.OrderRejected(what, code=code)
    if isinstance(exc, ccxt.BadResponse | ValueError | KeyError | TypeError):
        return e.MalformedResponse(what, code=code)
    if isinstance(exc, ccxt.OperationFailed):
        return e.TemporaryExchangeError(what, code=code)
    return e.PermanentExchangeError(what, code=code)


def _maybe_accepted(exc: BaseException) -> bool:
    """Could the exchange have accepted an order although we got this exception?"""
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded | ccxt.InvalidNonce):
        return False  # refused before processing
    return isinstance(exc, ccxt.NetworkError | ccxt.BadResponse | ccxt.OperationFailed | TimeoutError
                      | ConnectionError | OSError | ValueError | KeyError | TypeError) and not isinstance(
        exc, ccxt.ExchangeError)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None
