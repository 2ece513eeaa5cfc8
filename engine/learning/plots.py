"""The training run's two plots as SVG text: calibration (predicted against observed win rate, out
of sample) and permutation feature importance. The MLflow UI shows .svg artifacts as images.

Written by hand rather than with matplotlib: importing and rendering matplotlib cost about a second
of every training for two simple charts; this is a few lines of string formatting, and pure."""

from __future__ import annotations

from html import escape

import numpy as np

from engine.learning.metrics import Scores

FONT = 'font-family="sans-serif" font-size="11"'


def _svg(width: int, height: int, body: list[str]) -> str:
    return "\n".join([f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                      f'viewBox="0 0 {width} {height}">', f'<rect width="{width}" height="{height}" fill="white"/>',
                      *body, "</svg>", ""])


def calibration_bins(scores: Scores, bins: int = 10) -> tuple[list[float], list[float]]:
    """(mean predicted, observed win rate) per probability decile that has rows."""
    edges = np.quantile(scores.p, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, scores.p, side="right") - 1, 0, bins - 1)
    used = [b for b in range(bins) if (which == b).any()]
    return ([float(scores.p[which == b].mean()) for b in used], [float(scores.y[which == b].mean()) for b in used])


def calibration_svg(scores: Scores, bins: int = 10) -> str:
    """The diagonal (perfect), the model's deciles, and the base rate, on [0, 1] x [0, 1]."""
    size, pad = 400, 50
    span = size - 2 * pad

    def at(px: float, py: float) -> str:
        return f"{pad + px * span:.1f},{size - pad - py * span:.1f}"

    predicted, observed = calibration_bins(scores, bins)
    base = float(scores.y.mean())
    points = " ".join(at(px, py) for px, py in zip(predicted, observed, strict=True))
    ticks = [f'<text x="{pad + t * span:.1f}" y="{size - pad + 15}" text-anchor="middle" {FONT}>{t:.1f}</text>'
             f'<text x="{pad - 6}" y="{size - pad - t * span + 4:.1f}" text-anchor="end" {FONT}>{t:.1f}</text>'
             for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]
    return _svg(size, size, [
        f'<text x="{size / 2}" y="20" text-anchor="middle" font-family="sans-serif" font-size="14">Calibration</text>',
        f'<rect x="{pad}" y="{pad}" width="{span}" height="{span}" fill="none" stroke="black"/>', *ticks,
        f'<polyline points="{at(0, 0)} {at(1, 1)}" fill="none" stroke="grey" stroke-dasharray="4 3"/>',
        f'<polyline points="{at(0, base)} {at(1, base)}" fill="none" stroke="red" stroke-width="0.8"/>',
        f'<polyline points="{points}" fill="none" stroke="steelblue" stroke-width="1.5"/>',
        *(f'<circle cx="{at(px, py).split(",")[0]}" cy="{at(px, py).split(",")[1]}" r="3" fill="steelblue"/>'
          for px, py in zip(predicted, observed, strict=True)),
        f'<text x="{size / 2}" y="{size - 12}" text-anchor="middle" {FONT}>predicted win probability</text>',
        f'<text x="14" y="{size / 2}" text-anchor="middle" transform="rotate(-90 14 {size / 2})" {FONT}>'
        "observed win rate</text>",
        f'<text x="{pad + 8}" y="{pad + 16}" {FONT} fill="steelblue">model (out of sample)</text>',
        f'<text x="{pad + 8}" y="{pad + 30}" {FONT} fill="grey">perfect</text>',
        f'<text x="{pad + 8}" y="{pad + 44}" {FONT} fill="red">base rate {base:.3f}</text>',
    ])


def importance_svg(importance: dict[str, float], top: int = 25) -> str:
    """The `top` features by Brier increase when shuffled, largest first, as horizontal bars."""
    ranked = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:top]
    row, left, width, bar = 18, 170, 480, 260
    height = 60 + row * len(ranked)
    values = [v for _, v in ranked]
    low, high = min([0.0, *values]), max([0.0, *values])
    scale = bar / (high - low) if high > low else 0.0
    zero = left + (0.0 - low) * scale
    body = [f'<text x="{width / 2}" y="20" text-anchor="middle" font-family="sans-serif" font-size="14">'
            "Feature importance (permutation)</text>"]
    for i, (name, value) in enumerate(ranked):
        y = 36 + i * row
        x0, x1 = sorted((zero, zero + value * scale))
        body += [f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" {FONT}>{escape(name)}</text>',
                 f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 0.5):.1f}" height="{row - 4}" fill="steelblue"/>',
                 f'<text x="{left + bar + 8}" y="{y + 12}" {FONT}>{value:+.5f}</text>']
    body += [f'<line x1="{zero:.1f}" y1="32" x2="{zero:.1f}" y2="{height - 24}" stroke="black"/>',
             f'<text x="{left + bar / 2}" y="{height - 8}" text-anchor="middle" {FONT}>'
             "Brier increase when shuffled</text>"]
    return _svg(width, height, body)
