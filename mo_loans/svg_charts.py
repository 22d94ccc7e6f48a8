"""Small server-side SVG charts for the admin: no JavaScript, no external assets.

Every label is escaped; the charts are plain strings marked safe only after
that. Values are ``Decimal`` or ``int``; coordinates are rounded to a tenth of
a pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2f6fb0", "#e08a1e", "#c0392b", "#6c3483", "#1e8449", "#7f8c8d")
FONT = 'font-family="sans-serif" font-size="12"'


def _n(value: float) -> str:
    return f"{value:.1f}"


def _svg(width: int, height: int, title: str, body: list[str]) -> SafeString:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )
    return mark_safe(head + "".join(body) + "</svg>")  # noqa: S308 - every text is escaped


def bar_chart(
    *,
    title: str,
    bars: Sequence[tuple[str, Decimal | int, str]],
    width: int = 480,
    height: int = 220,
    maximum: Decimal | int | None = None,
) -> SafeString:
    """Vertical bars ``(label, value, value text)``; ``maximum`` fixes the scale (e.g. 1)."""
    top, bottom, left = 20, 40, 10
    plot = height - top - bottom
    scale = maximum if maximum is not None else max((value for _, value, _ in bars), default=0)
    slot = (width - 2 * left) / max(1, len(bars))
    body = [
        f'<line x1="{left}" y1="{top + plot}" x2="{width - left}" y2="{top + plot}" '
        'stroke="#999" stroke-width="1"/>'
    ]
    for index, (label, value, text) in enumerate(bars):
        share = float(value) / float(scale) if scale else 0.0
        bar = plot * min(1.0, max(0.0, share))
        x = left + slot * index + slot * 0.15
        colour = PALETTE[index % len(PALETTE)]
        body.append(
            f'<rect x="{_n(x)}" y="{_n(top + plot - bar)}" width="{_n(slot * 0.7)}" '
            f'height="{_n(bar)}" fill="{colour}"><title>{escape(label)}: {escape(text)}</title>'
            "</rect>"
        )
        middle = x + slot * 0.35
        body.append(
            f'<text x="{_n(middle)}" y="{_n(top + plot - bar - 4)}" text-anchor="middle" '
            f"{FONT}>{escape(text)}</text>"
        )
        body.append(
            f'<text x="{_n(middle)}" y="{_n(height - bottom + 16)}" text-anchor="middle" '
            f"{FONT}>{escape(label)}</text>"
        )
    return _svg(width, height, title, body)


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal]]],
    width: int = 720,
    height: int = 260,
) -> SafeString:
    """Lines over ``labels`` (x axis), one per ``(name, values)``; y from 0 to the largest
    value (at least 0.01), with a legend."""
    top, bottom, left, right = 20, 50, 50, 110
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((float(v) for _, values in series for v in values), default=0.0)
    peak = max(peak, 0.01)
    step = plot_w / max(1, len(labels) - 1)

    def point(index: int, value: Decimal) -> tuple[float, float]:
        return left + step * index, top + plot_h - plot_h * float(value) / peak

    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" {FONT}>{peak:.1%}</text>',
        f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end" {FONT}>0%</text>',
    ]
    for index, label in enumerate(labels):
        if index % 2 == 0 or index == len(labels) - 1:
            x = left + step * index
            body.append(
                f'<text x="{_n(x)}" y="{top + plot_h + 18}" text-anchor="middle" '
                f'font-family="sans-serif" font-size="10">{escape(label)}</text>'
            )
    for number, (name, values) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        points = " ".join(
            f"{_n(x)},{_n(y)}" for x, y in (point(i, v) for i, v in enumerate(values))
        )
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2">'
            f"<title>{escape(name)}</title></polyline>"
        )
        for i, value in enumerate(values):
            x, y = point(i, value)
            body.append(
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3" fill="{colour}">'
                f"<title>{escape(name)} {escape(labels[i])}: {escape(str(value))}</title></circle>"
            )
        legend_y = top + 16 * number + 6
        body.append(
            f'<rect x="{width - right + 14}" y="{legend_y - 9}" width="12" height="4" '
            f'fill="{colour}"/><text x="{width - right + 32}" y="{legend_y - 3}" {FONT}>'
            f"{escape(name)}</text>"
        )
    return _svg(width, height, title, body)
