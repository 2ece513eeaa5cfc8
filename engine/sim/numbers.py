"""Number formatting for Binance JSON: decimal strings, never exponents."""

from __future__ import annotations

from decimal import Decimal


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
        return format(x.quantize(Decimal(1).scaleb(-places)), "f") if places else format(x.quantize(Decimal(1)), "f")
    return f"{x:.{places}f}"

