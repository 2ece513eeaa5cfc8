from __future__ import annotations

import ccxt
import pytest

from engine.core import errors as e
from engine.venues.errors import describe, translate


def body(code: int, msg: str) -> str:
    return f'binanceusdm {{"code":{code},"msg":"{msg}"}}'


@pytest.mark.parametrize(("exc", "kind"), [
    (ccxt.InsufficientFunds(body(-2019, "Margin is insufficient.")), e.InsufficientMargin),
    (ccxt.InvalidOrder(body(-4116, "ClientOrderId is duplicated.")), e.DuplicateClientOrderId),
    (ccxt.BadSymbol(body(-1121, "Invalid symbol.")), e.UnknownSymbol),
    (ccxt.OrderNotFound(body(-2013, "Order does not exist.")), e.OrderNotFound),
    (ccxt.BadRequest(body(-4014, "Price not increased by tick size.")), e.OrderRejected),
    (ccxt.AuthenticationError(body(-1022, "Signature for this request is not valid.")), e.AuthenticationFailed),
    (ccxt.InvalidNonce(body(-1021, "Timestamp for this request is outside of the recvWindow.")),
     e.TimestampOutOfWindow),
    (ccxt.DDoSProtection("binanceusdm 429 Too Many Requests"), e.RateLimited),
    (ccxt.ExchangeNotAvailable("binanceusdm 503 Service Unavailable"), e.TemporaryExchangeError),
    (ccxt.RequestTimeout("binanceusdm GET https://x timed out"), e.TemporaryExchangeError),
    (ccxt.BadResponse("binanceusdm unreadable json"), e.MalformedResponse),
])
def test_reads_and_rejections(exc: Exception, kind: type) -> None:
    translated = translate(exc, operation="op")
    assert type(translated) is kind
    assert translated.__class__.__mro__.index(kind) == 0


@pytest.mark.parametrize("exc", [
    ccxt.RequestTimeout("timed out"), ccxt.ExchangeNotAvailable("502 Bad Gateway"),
    ccxt.NetworkError("connection reset"), ccxt.BadResponse("not json"), TimeoutError(),
])
def test_order_submission_that_may_have_landed_is_unknown_not_failed(exc: Exception) -> None:
    assert isinstance(translate(exc, operation="create_order", submits_order=True), e.OrderStateUnknown)


@pytest.mark.parametrize("exc", [
    ccxt.DDoSProtection("429"), ccxt.InsufficientFunds(body(-2019, "Margin is insufficient.")),
    ccxt.InvalidOrder(body(-4164, "Order's notional must be no smaller than 100")),
])
def test_definitive_answers_to_an_order_are_not_unknown(exc: Exception) -> None:
    assert not isinstance(translate(exc, operation="create_order", submits_order=True), e.OrderStateUnknown)


def test_retry_after_header_is_honoured() -> None:
    err = translate(ccxt.DDoSProtection("429"), operation="op", headers={"Retry-After": "7"})
    assert isinstance(err, e.RateLimited) and err.retry_after == 7.0


def test_description_names_code_and_message() -> None:
    assert describe(ccxt.InsufficientFunds(body(-2019, "Margin is insufficient."))) == "-2019 Margin is insufficient."
    assert translate(ccxt.BadSymbol(body(-1121, "Invalid symbol.")), operation="fetch_ticker DOGEUSDT").code == -1121
