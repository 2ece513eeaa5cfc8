"""Number formatting for Binance JSON: decimal strings, never exponents."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal


def num(x: float) -> str:
    """Shortest string that reads back as the same float ('95505.4', '0.0001', never '1e-04')."""
    text = repr(float(x))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def fixed(x: Decimal | float, places: int) -> str:
    """Fixed decimals, as Binance prints balances and prices ('59439.30', '0.00000000')."""
    if isinstance(x, Decimal):
        # explicit rounding: ccxt resets the thread's decimal context to ROUND_HALF_UP when it runs
        return format(x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN), "f")
    return f"{x:.{places}f}"

