"""Our error hierarchy. Vendor errors (ccxt, HTTP, JSON) are translated into these at the border."""

from __future__ import annotations


class SltError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(SltError):
    """Configuration that cannot be used: names the variable, the value and what is allowed."""


class DataError(SltError):
    """Input data that is malformed or impossible (NaN or negative prices, high < low, ...)."""


class StoreUnavailable(SltError):
    """The store cannot be written right now; callers keep the data and retry."""


class ExchangeError(SltError):
    """An exchange answered with an error or could not be reached."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryExchangeError(ExchangeError):
    """Worth retrying: network failure, 5xx, rate limit. `retry_after` in seconds when the venue said."""

    def __init__(self, message: str, *, code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class RateLimited(TemporaryExchangeError):
    """HTTP 429/418: slow down for at least `retry_after` seconds."""


class TimestampOutOfWindow(TemporaryExchangeError):
    """-1021: our clock drifted from the exchange's; resynchronise and retry."""


class OrderStateUnknown(TemporaryExchangeError):
    """The request may or may not have reached the exchange (timeout after send): ask by client id."""


class PermanentExchangeError(ExchangeError):
    """Retrying the same request cannot succeed."""


class AuthenticationFailed(PermanentExchangeError):
    """Bad API key, secret or signature."""


class UnknownSymbol(PermanentExchangeError):
    """The exchange does not list the symbol."""


class OrderRejected(PermanentExchangeError):
    """The exchange refused the order (filters, precision, reduce-only, notional ...)."""


class InsufficientMargin(OrderRejected):
    """-2019: not enough margin for the order."""


class DuplicateClientOrderId(OrderRejected):
    """-4116: an order with this client id already exists; the original is the one that counts."""


class OrderNotFound(PermanentExchangeError):
    """-2011/-2013: no such order."""


class MalformedResponse(PermanentExchangeError):
    """The exchange answered with something we cannot parse."""
