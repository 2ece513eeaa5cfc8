"""Binance error codes and messages as the simulator answers them (spec §5).

One table, so every handler raises the same text Binance sends and ccxt maps each code to the same
exception class it raises in production."""

from __future__ import annotations

MESSAGES: dict[int, str] = {
    -1000: "An unknown error occured while processing the request.",
    -1001: "Internal error; unable to process your request. Please try again.",
    -1003: "Too many requests; current limit of IP(127.0.0.1) is {limit} requests per minute. "
           "Please use the websocket for live updates to avoid polling the API.",
    -1021: "Timestamp for this request is outside of the recvWindow.",
    -1022: "Signature for this request is not valid.",
    -1102: "Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
    -1111: "Precision is over the maximum defined for this asset.",
    -1115: "Invalid timeInForce.",
    -1116: "Invalid orderType.",
    -1117: "Invalid side.",
    -1120: "Invalid interval.",
    -1121: "Invalid symbol.",
    -1125: "This listenKey does not exist.",
    -1127: "More than 7 days between startTime and endTime.",
    -1130: "Data sent for parameter '{name}' is not valid.",
    -1106: "Parameter '{name}' sent when not required.",
    -2011: "Unknown order sent.",
    -2013: "Order does not exist.",
    -2014: "API-key format invalid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
    -2019: "Margin is insufficient.",
    -2021: "Order would immediately trigger.",
    -2022: "ReduceOnly Order is rejected.",
    -2025: "Reach max open order limit.",
    -4003: "Quantity less than or equal to zero.",
    -4004: "Quantity less than min quantity.",
    -4005: "Quantity greater than max quantity.",
    -4013: "Price less than min price.",
    -4014: "Price not increased by tick size.",
    -4015: "Client order id is not valid.",
    -4016: "Limit price can't be higher than {limit}.",
    -4024: "Limit price can't be lower than {limit}.",
    -4028: "Leverage {leverage} is not valid",
    -4046: "No need to change margin type.",
    -4047: "Margin type cannot be changed if there exists open orders.",
    -4048: "Margin type cannot be changed if there exists position.",
    -4061: "Order's position side does not match user's setting.",
    -4116: "ClientOrderId is duplicated.",
    -4120: "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
    -4164: "Order's notional must be no smaller than {notional} (unless you choose reduce only).",
    -5022: "Due to the order could not be executed as maker, the Post Only order will be rejected.",
}

# HTTP status per code where it is not 400 (spec §5).
STATUS: dict[int, int] = {-2014: 401, -2015: 401, -1001: 503, -1003: 429}


class BinanceError(Exception):
    """An error answer: `{"code": code, "msg": msg}` with an HTTP status."""

    def __init__(self, code: int, msg: str | None = None, *, status: int | None = None,
                 retry_after: int | None = None, **fmt: object) -> None:
        text = msg if msg is not None else MESSAGES.get(code, MESSAGES[-1000]).format(**fmt)
        super().__init__(f"{code}: {text}")
        self.code = code
        self.msg = text
        self.status = status if status is not None else STATUS.get(code, 400)
        self.retry_after = retry_after          # seconds, sent as a Retry-After header (429/418)

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}
